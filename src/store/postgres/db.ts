import { SQL } from "bun";
import { deadline } from "./errors.ts";
import { migrate, type MigrationStep } from "./migrate.ts";

export { migrate, type MigrationStep } from "./migrate.ts";

/** Options of {@link openPostgres}. */
export interface PostgresOptions {
  /**
   * How long a request waits on PostgreSQL (a token lookup), and how long `flush()` of the log store
   * waits without progress before giving up on a server that is away (`config.storage.timeout`). @default 250
   */
  timeoutMs?: number;
  /**
   * How long an admin read or write may take: the logs API, analytics, the CLI, retention. Never on the
   * request path. Also the server's `statement_timeout` for this pool. @default 30000
   */
  queryTimeoutMs?: number;
  /** How long opening (connecting and migrating, waiting for another replica's migration) may take. @default 60000 */
  openTimeoutMs?: number;
  /** Connections in the pool. @default 10 */
  max?: number;
  /** Bring the schema up to date while opening. @default true */
  migrate?: boolean;
}

/**
 * One pool of connections to PostgreSQL, shared by the PostgreSQL stores of a process, with the
 * deadlines they use. Bun's client reconnects on its own: after a restart of the server, the next
 * query opens a new connection, so nothing here needs restarting.
 */
export class PostgresDatabase {
  readonly sql: SQL;
  /** See {@link PostgresOptions.timeoutMs}. */
  readonly timeoutMs: number;
  /** See {@link PostgresOptions.queryTimeoutMs}. */
  readonly queryTimeoutMs: number;
  /** `host:port/database`, for messages: never the user or password of the URL. */
  readonly target: string;
  /** What opening migrated: one entry per concern whose version changed. */
  migrated: MigrationStep[] = [];
  #closed = false;

  constructor(url: string, options: PostgresOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 250;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 30_000;
    this.target = describeUrl(url);
    this.sql = new SQL(url, {
      max: options.max ?? 10,
      // Seconds. A refused connection fails at once; this bounds a host that does not answer.
      connectionTimeout: Math.max(1, Math.ceil(this.queryTimeoutMs / 1000 / 6)),
      connection: {
        application_name: "switchboard",
        statement_timeout: this.queryTimeoutMs,
        // Short, frequent queries: compiling one costs more than it saves.
        jit: "off",
      },
    });
  }

  /**
   * Runs one query (or transaction) and waits at most `ms` for it; see `deadline` in errors.ts.
   * @example const rows = await db.run((sql) => sql`SELECT 1`, "checking the connection");
   */
  run<T>(query: (sql: SQL) => PromiseLike<T>, during: string, ms = this.queryTimeoutMs): Promise<T> {
    return deadline(query(this.sql), ms, during);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the pool; queries still running get `timeoutSeconds` to finish. */
  async close(timeoutSeconds = 5): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.sql.close({ timeout: timeoutSeconds });
  }
}

/**
 * Opens a pool on `url` and, unless told otherwise, brings the schema of every PostgreSQL-backed store
 * up to date under an advisory lock (see `migrate`), so replicas starting at the same moment are safe.
 * Fails, closing the pool, when PostgreSQL cannot be reached within `openTimeoutMs`.
 *
 * @example
 * const db = await openPostgres(config.storage.postgres, { timeoutMs: config.storage.timeout });
 * const tokens = new PostgresTokenStore(db, { health });
 */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<PostgresDatabase> {
  const db = new PostgresDatabase(url, options);
  if (options.migrate === false) return db;
  try {
    db.migrated = await migrate(db.sql, { timeoutMs: options.openTimeoutMs ?? 60_000 });
    return db;
  } catch (error) {
    await db.close(0);
    throw new Error(`PostgreSQL at ${db.target} could not be opened: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** `host:port/database` of a PostgreSQL URL (no credentials, no parameters). */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}${parsed.port ? `:${parsed.port}` : ""}${parsed.pathname}`;
  } catch {
    return "the configured URL";
  }
}
