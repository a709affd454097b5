import type { ResolvedConfig } from "../config/defaults.ts";
import type { Health, Logger, Stores } from "../pipeline/types.ts";
import { MemoryBreakerStore } from "./memory/breakers.ts";
import { MemoryCacheFront } from "./memory/cache-front.ts";
import { MemoryCounterStore } from "./memory/counters.ts";
import { MemoryFlightStore } from "./memory/flights.ts";
import { MemorySpendStore } from "./memory/spend.ts";
import { RedisBreakerStore } from "./redis/breakers.ts";
import { RedisCacheStore } from "./redis/cache.ts";
import { RedisConnection } from "./redis/connection.ts";
import { RedisCounterStore } from "./redis/counters.ts";
import { RedisFlightStore } from "./redis/flights.ts";
import { RedisSpendStore } from "./redis/spend.ts";
import { RedisVectorIndex } from "./redis/vectors.ts";
import { safeUrl } from "./describe.ts";
import { openLogAndTokenStores } from "./records.ts";
import { cacheFile, SqliteCacheStore } from "./sqlite/cache.ts";
import { openDatabase } from "./sqlite/db.ts";
import { SqliteVectorIndex } from "./sqlite/vectors.ts";

export interface OpenStores {
  stores: Stores;
  /** Flushes and closes every store, then the engines. */
  close(): Promise<void>;
}

/**
 * Opens the storage the config names: the one place that chooses engines, so no plugin knows which.
 *
 * - Logs and gateway tokens: the SQLite file, or PostgreSQL with `storage.postgres` (see records.ts).
 * - Counters, spend, cache entries, vectors, in-flight coalescing and breakers: in process and the
 *   SQLite cache file, or Redis with `storage.redis`, shared by every replica. One Redis connection
 *   serves them all; each store applies its own outage policy (docs/deploy.md).
 *
 * Every store reports its faults to `health` (components `logs`, `cache`, `tokens`, `counters`,
 * `spend`, `redis`, `postgres`) rather than throwing from a timer; the log store's counters appear in
 * `GET /health` as `stats.logs`. Start-up waits for the first Redis connection attempt (bounded by
 * its connect timeout) and warns when it failed: requests then get each feature's outage policy until
 * Redis answers, and nothing needs a restart.
 */
export async function openStores(config: ResolvedConfig, logger: Logger, health: Health): Promise<OpenStores> {
  const records = await openLogAndTokenStores(config, logger, health);
  const shared = config.storage.redis ? await redisStores(config, logger, health) : localStores(config, health);
  const stores: Stores = { logs: records.logs, tokens: records.tokens, ...shared.stores };
  return {
    stores,
    async close() {
      await records.close();
      await shared.close();
    },
  };
}

type SharedStores = Pick<Stores, "counters" | "spend" | "cache" | "vectors" | "breakers" | "flights">;

/** One process: counters, spend, flights and breakers in memory; cache entries and vectors in the SQLite cache file. */
function localStores(config: ResolvedConfig, health: Health): { stores: SharedStores; close(): Promise<void> } {
  const counters = new MemoryCounterStore({ health });
  const spend = new MemorySpendStore({ health });
  // Hot entries answer from memory; this process is the SQLite file's only writer.
  const cacheStore = new SqliteCacheStore(openDatabase(cacheFile(config.storage.sqlite)), { health });
  const vectors = new SqliteVectorIndex(openDatabase(cacheFile(config.storage.sqlite)), { health });
  const breakers = new MemoryBreakerStore();
  return {
    stores: { counters, spend, cache: new MemoryCacheFront(cacheStore), vectors, breakers, flights: new MemoryFlightStore() },
    async close() {
      await counters.close();
      await spend.close();
      await breakers.close();
      cacheStore.close();
      vectors.close();
    },
  };
}

/** Replicas: everything shared through one Redis connection. */
async function redisStores(config: ResolvedConfig, logger: Logger, health: Health): Promise<{ stores: SharedStores; close(): Promise<void> }> {
  const url = config.storage.redis!;
  const redis = new RedisConnection(url, { timeoutMs: config.storage.timeout, health });
  if (!(await redis.ready())) {
    logger.warn(`Redis at ${safeUrl(url)} is not reachable; serving with each feature's outage policy until it is (docs/deploy.md)`);
  }
  const { limitsWhenDown } = config.storage;
  const counters = new RedisCounterStore(redis, { limitsWhenDown });
  const spend = new RedisSpendStore(redis, { limitsWhenDown });
  const breakers = new RedisBreakerStore(redis);
  const flights = new RedisFlightStore(redis);
  // The front keeps hot answers in memory; entries are immutable per key until they expire, and an
  // expired copy is looked up again (another replica may have written a newer one).
  const cache = new MemoryCacheFront(new RedisCacheStore(redis, { health }));
  const vectors = new RedisVectorIndex(redis, { health });
  return {
    stores: { counters, spend, cache, vectors, breakers, flights },
    async close() {
      await counters.close();
      await spend.close();
      await breakers.close();
      redis.close();
    },
  };
}
