import type { ResolvedConfig } from "../config/defaults.ts";
import type { Health, Logger, Stores } from "../pipeline/types.ts";
import { MemoryBreakerStore } from "./memory/breakers.ts";
import { MemoryCounterStore } from "./memory/counters.ts";
import { MemorySpendStore } from "./memory/spend.ts";
import { openDatabase } from "./sqlite/db.ts";
import { SqliteLogStore } from "./sqlite/logs.ts";
import { SqliteTokenStore } from "./sqlite/tokens.ts";
import { cacheFile, SqliteCacheStore } from "./sqlite/cache.ts";
import { MemoryCacheFront } from "./memory/cache-front.ts";
import { SqliteVectorIndex } from "./sqlite/vectors.ts";

export interface OpenStores {
  stores: Stores;
  /** Flushes and closes every store, then the database. */
  close(): Promise<void>;
}

/**
 * Opens the storage the config names. Today that is one SQLite file shared by every store;
 * a scale-out backend replaces entries here and nowhere else. Every store reports its storage faults
 * to `health` (components `logs`, `cache`, `tokens`, `counters`, `spend`) rather than throwing from a timer;
 * the log store's counters appear in `GET /health` as `stats.logs`.
 */
export function openStores(config: ResolvedConfig, logger: Logger, health: Health): OpenStores {
  const db = openDatabase(config.storage.sqlite);
  const logs = new SqliteLogStore(db, { logger, health, retention: (id) => config.gateways.get(id)?.logs, closeDatabase: false });
  health.section("logs", () => ({ written: logs.stats.written, dropped: logs.stats.dropped, retrying: logs.retrying }));
  // In the writer thread, while the server starts: a big first prune does not hold up requests.
  logs.pruneAll(config.gateways.keys()).catch((error) => logger.error("applying log retention at start-up failed", error));
  const tokens = new SqliteTokenStore(db, { health });
  const counters = new MemoryCounterStore({ health });
  const spend = new MemorySpendStore({ health });
  // Hot entries answer from memory; this process is the SQLite file's only writer.
  const cacheStore = new SqliteCacheStore(openDatabase(cacheFile(config.storage.sqlite)), { health });
  const cache = new MemoryCacheFront(cacheStore);
  const vectors = new SqliteVectorIndex(openDatabase(cacheFile(config.storage.sqlite)), { health });
  // In-process like the counters: each replica learns about its providers on its own.
  const breakers = new MemoryBreakerStore();
  const stores: Stores = { logs, tokens, counters, spend, cache, vectors, breakers };
  return {
    stores,
    async close() {
      await logs.close();
      await counters.close();
      await spend.close();
      await breakers.close();
      cacheStore.close();
      vectors.close();
      db.close();
    },
  };
}
