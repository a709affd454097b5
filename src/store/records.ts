import type { ResolvedConfig } from "../config/defaults.ts";
import type { Health, Logger, Stores } from "../pipeline/types.ts";
import { openPostgres } from "./postgres/db.ts";
import { PostgresLogStore } from "./postgres/logs.ts";
import { PostgresTokenStore } from "./postgres/tokens.ts";
import { openDatabase } from "./sqlite/db.ts";
import { SqliteLogStore } from "./sqlite/logs.ts";
import { SqliteTokenStore } from "./sqlite/tokens.ts";

/** The stores that keep what must not be lost: request logs and run-time gateway tokens. */
export interface RecordStores {
  logs: Stores["logs"];
  tokens: Stores["tokens"];
  /** Flushes the logs, then closes the engine. */
  close(): Promise<void>;
}

/**
 * Opens the logs and tokens: in the SQLite file (the default), or in PostgreSQL with `storage.postgres`
 * (schema migrated on open, under an advisory lock). The log store's counters are published in
 * `GET /health` as `stats.logs`, and its retention is applied once at start-up.
 */
export async function openLogAndTokenStores(config: ResolvedConfig, logger: Logger, health: Health): Promise<RecordStores> {
  const retention = (id: string) => config.gateways.get(id)?.logs;
  if (config.storage.postgres) return openPostgresRecords(config.storage.postgres, config, logger, health);
  const db = openDatabase(config.storage.sqlite);
  const logs = new SqliteLogStore(db, { logger, health, retention, closeDatabase: false });
  health.section("logs", () => ({ written: logs.stats.written, dropped: logs.stats.dropped, retrying: logs.retrying }));
  // In the writer thread, while the server starts: a big first prune does not hold up requests.
  logs.pruneAll(config.gateways.keys()).catch((error) => logger.error("applying log retention at start-up failed", error));
  const tokens = new SqliteTokenStore(db, { health });
  return {
    logs,
    tokens,
    async close() {
      await logs.close();
      db.close();
    },
  };
}

/** Logs and tokens in PostgreSQL, shared by every replica; log writes batched off the request path and buffered through outages. */
async function openPostgresRecords(url: string, config: ResolvedConfig, logger: Logger, health: Health): Promise<RecordStores> {
  const pg = await openPostgres(url, { timeoutMs: config.storage.timeout });
  const logs = new PostgresLogStore(pg, {
    logger,
    health,
    logBuffer: config.storage.logBuffer,
    retention: (id) => config.gateways.get(id)?.logs,
    closeDatabase: false,
  });
  health.section("logs", () => ({ written: logs.stats.written, dropped: logs.stats.dropped, retrying: logs.retrying, buffered: logs.buffered }));
  logs.pruneAll(config.gateways.keys()).catch((error) => logger.error("applying log retention at start-up failed", error));
  const tokens = new PostgresTokenStore(pg, { health });
  return {
    logs,
    tokens,
    async close() {
      await logs.close();
      await pg.close();
    },
  };
}
