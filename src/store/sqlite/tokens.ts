import type { Database, Statement } from "bun:sqlite";
import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import type { Health } from "../../pipeline/types.ts";
import { consoleHealth } from "../../server/health.ts";
import { hashSecret, newToken, type CreatedToken, type GatewayToken, type NewToken, type TokenStore } from "../tokens.ts";
import { migrate } from "./db.ts";
import { isStorageFault } from "./faults.ts";

/** Append only: entry i moves the "tokens" concern from version i to i + 1. */
const TOKEN_MIGRATIONS = [
  `CREATE TABLE gateway_tokens (
    id TEXT PRIMARY KEY,
    gateway_id TEXT NOT NULL,
    name TEXT,
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
  );
  CREATE INDEX gateway_tokens_by_gateway ON gateway_tokens (gateway_id, created_at);`,
];

interface TokenRow {
  id: string;
  gateway_id: string;
  name: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

const COLUMNS = "id, gateway_id, name, created_at, expires_at, revoked_at";

/**
 * The longest a token write (create, revoke) waits for another connection's write lock. It runs on the
 * request thread, which must not stall: the log writer thread holds the lock a few ms per batch, so a
 * longer wait means another process holds it, and the call fails with 503 instead of waiting out the
 * file's 5 s busy timeout while every request queues behind it.
 */
const WRITE_WAIT_MS = 250;

const toToken = (row: TokenRow): GatewayToken => ({
  id: row.id,
  gatewayId: row.gateway_id,
  name: row.name,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
});

/** Options of {@link SqliteTokenStore}. */
export interface SqliteTokenStoreOptions {
  /** Where failing calls are reported, as component `"tokens"` (they still reject). @default `consoleHealth()` */
  health?: Health;
}

/**
 * The default `TokenStore`, in the SQLite file the other stores share. Every call reads the file, so a
 * token made or revoked by `switchboard tokens` in another process counts on the next request (WAL).
 * A call the file refuses rejects (the request fails closed) and is a fault of `"tokens"` in `health`;
 * a storage fault (the file locked by another process past `WRITE_WAIT_MS`, full, unreadable) rejects
 * with 503 StorageUnavailable.
 *
 * @example
 * const tokens = new SqliteTokenStore(openDatabase(config.storage.sqlite));
 */
export class SqliteTokenStore implements TokenStore {
  private readonly insert: Statement;
  private readonly byHash: Statement<TokenRow, [string, string, number]>;
  private readonly all: Statement<TokenRow, []>;
  private readonly ofGateway: Statement<TokenRow, [string]>;
  private readonly revokeAny: Statement<TokenRow, [number, string]>;
  private readonly revokeOfGateway: Statement<TokenRow, [number, string, string]>;
  private readonly health: Health;
  /** The connection's own busy timeout, restored after each write. */
  private readonly busyTimeout: number;

  constructor(
    private readonly db: Database,
    options: SqliteTokenStoreOptions = {},
  ) {
    this.health = options.health ?? consoleHealth();
    migrate(db, "tokens", TOKEN_MIGRATIONS);
    this.busyTimeout = db.query<{ timeout: number }, []>("PRAGMA busy_timeout").get()?.timeout ?? 0;
    this.insert = db.query(`INSERT INTO gateway_tokens (${COLUMNS}, hash) VALUES (?, ?, ?, ?, ?, NULL, ?)`);
    this.byHash = db.query(
      `SELECT ${COLUMNS} FROM gateway_tokens
       WHERE hash = ? AND gateway_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
    );
    this.all = db.query(`SELECT ${COLUMNS} FROM gateway_tokens ORDER BY created_at, id`);
    this.ofGateway = db.query(`SELECT ${COLUMNS} FROM gateway_tokens WHERE gateway_id = ? ORDER BY created_at, id`);
    // COALESCE keeps the first revocation time, so revoking twice is harmless.
    this.revokeAny = db.query(`UPDATE gateway_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING ${COLUMNS}`);
    this.revokeOfGateway = db.query(
      `UPDATE gateway_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND gateway_id = ? RETURNING ${COLUMNS}`,
    );
  }

  async create(input: NewToken): Promise<CreatedToken> {
    const { token, info, hash } = newToken(input);
    this.write("storing a token", () => this.insert.run(info.id, info.gatewayId, info.name, info.createdAt, info.expiresAt, hash));
    return { token, info };
  }

  async list(gatewayId?: string): Promise<GatewayToken[]> {
    const rows = this.watch("listing tokens", () => (gatewayId === undefined ? this.all.all() : this.ofGateway.all(gatewayId)));
    return rows.map(toToken);
  }

  async revoke(id: string, gatewayId?: string): Promise<boolean> {
    const now = Date.now();
    const row = this.write("revoking a token", () => (gatewayId === undefined ? this.revokeAny.get(now, id) : this.revokeOfGateway.get(now, id, gatewayId)));
    return row !== null;
  }

  async verify(gatewayId: string, secret: string, now = Date.now()): Promise<GatewayToken | null> {
    // The lookup is by the secret's SHA-256: its timing says nothing about the secret itself.
    const hash = hashSecret(secret);
    const row = this.watch("verifying a token", () => this.byHash.get(hash, gatewayId, now));
    return row ? toToken(row) : null;
  }

  /** {@link watch} for a write: waits at most `WRITE_WAIT_MS` for another connection's lock. */
  private write<T>(during: string, run: () => T): T {
    this.db.run(`PRAGMA busy_timeout = ${Math.min(WRITE_WAIT_MS, this.busyTimeout)}`);
    try {
      return this.watch(during, run);
    } finally {
      this.db.run(`PRAGMA busy_timeout = ${this.busyTimeout}`);
    }
  }

  /** Runs one statement; a failure is reported to `health` and thrown on, a storage fault as 503 StorageUnavailable. */
  private watch<T>(during: string, run: () => T): T {
    try {
      const result = run();
      this.health.recovered("tokens");
      return result;
    } catch (error) {
      this.health.fault("tokens", error, { during });
      if (!isStorageFault(error)) throw error;
      throw new GatewayError(503, ErrorCode.StorageUnavailable, `The SQLite file where gateway tokens live refused the call (${during}); try again shortly`, {
        cause: error,
        headers: { "retry-after": "1" },
      });
    }
  }
}
