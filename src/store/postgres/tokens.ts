import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import type { Health } from "../../pipeline/types.ts";
import { consoleHealth } from "../../server/health.ts";
import { hashSecret, newToken, type CreatedToken, type GatewayToken, type NewToken, type TokenStore } from "../tokens.ts";
import type { PostgresDatabase } from "./db.ts";
import { isUnavailable } from "./errors.ts";

interface TokenRow {
  id: string;
  gateway_id: string;
  name: string | null;
  /** int8 columns arrive as text. */
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

const toToken = (row: TokenRow): GatewayToken => ({
  id: row.id,
  gatewayId: row.gateway_id,
  name: row.name,
  createdAt: Number(row.created_at),
  expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
});

/** Options of {@link PostgresTokenStore}. */
export interface PostgresTokenStoreOptions {
  /** Where failing calls are reported, as component `"tokens"` (they still reject). @default `consoleHealth()` */
  health?: Health;
}

/**
 * The `TokenStore` of a scale-out deployment: tokens live in PostgreSQL (`gateway_tokens`, schema.ts),
 * hashed exactly as the SQLite store hashes them, so a token made on one replica (or by
 * `switchboard tokens create`) opens the gateway on every replica at its next request.
 *
 * `verify` is on the request path: it waits at most `db.timeoutMs` (`storage.timeout`); when PostgreSQL
 * is away or slower, it rejects with 503 StorageUnavailable (a run-time token cannot be checked, so the
 * request is refused rather than let through). Every failure is a fault of `"tokens"` in `health`.
 *
 * @example
 * const tokens = new PostgresTokenStore(await openPostgres(config.storage.postgres!), { health });
 */
export class PostgresTokenStore implements TokenStore {
  private readonly health: Health;

  constructor(
    private readonly db: PostgresDatabase,
    options: PostgresTokenStoreOptions = {},
  ) {
    this.health = options.health ?? consoleHealth();
  }

  async create(input: NewToken): Promise<CreatedToken> {
    const { token, info, hash } = newToken(input);
    await this.watch("storing a token", this.db.queryTimeoutMs, (sql) =>
      sql`INSERT INTO gateway_tokens (id, gateway_id, name, hash, created_at, expires_at)
        VALUES (${info.id}, ${info.gatewayId}, ${info.name}, ${hash}, ${info.createdAt}::int8, ${info.expiresAt}::int8)`,
    );
    return { token, info };
  }

  async list(gatewayId?: string): Promise<GatewayToken[]> {
    const rows = await this.watch("listing tokens", this.db.queryTimeoutMs, (sql) =>
      gatewayId === undefined
        ? sql<TokenRow[]>`SELECT id, gateway_id, name, created_at, expires_at, revoked_at FROM gateway_tokens ORDER BY created_at, id`
        : sql<TokenRow[]>`SELECT id, gateway_id, name, created_at, expires_at, revoked_at FROM gateway_tokens
            WHERE gateway_id = ${gatewayId} ORDER BY created_at, id`,
    );
    return rows.map(toToken);
  }

  async revoke(id: string, gatewayId?: string): Promise<boolean> {
    const now = Date.now();
    // COALESCE keeps the first revocation time, so revoking twice is harmless.
    const rows = await this.watch("revoking a token", this.db.queryTimeoutMs, (sql) =>
      gatewayId === undefined
        ? sql`UPDATE gateway_tokens SET revoked_at = COALESCE(revoked_at, ${now}::int8) WHERE id = ${id} RETURNING id`
        : sql`UPDATE gateway_tokens SET revoked_at = COALESCE(revoked_at, ${now}::int8) WHERE id = ${id} AND gateway_id = ${gatewayId} RETURNING id`,
    );
    return rows.length > 0;
  }

  async verify(gatewayId: string, secret: string, now = Date.now()): Promise<GatewayToken | null> {
    // The lookup is by the secret's SHA-256: its timing says nothing about the secret itself.
    const hash = hashSecret(secret);
    const [row] = await this.watch("verifying a token", this.db.timeoutMs, (sql) =>
      sql<TokenRow[]>`SELECT id, gateway_id, name, created_at, expires_at, revoked_at FROM gateway_tokens
        WHERE hash = ${hash} AND gateway_id = ${gatewayId} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${now}::int8)`,
    );
    return row ? toToken(row) : null;
  }

  /** Runs one statement within `ms`; a failure is reported to `health`, and PostgreSQL being away becomes a 503. */
  private async watch<T>(during: string, ms: number, query: (sql: PostgresDatabase["sql"]) => PromiseLike<T>): Promise<T> {
    try {
      const result = await this.db.run(query, during, ms);
      this.health.recovered("tokens");
      return result;
    } catch (error) {
      this.health.fault("tokens", error, { during });
      if (!isUnavailable(error)) throw error;
      throw new GatewayError(503, ErrorCode.StorageUnavailable, `PostgreSQL, where gateway tokens live, did not answer in time (${during}); try again shortly`, { cause: error });
    }
  }
}
