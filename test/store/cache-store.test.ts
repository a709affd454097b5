import { describe } from "bun:test";
import type { CacheStore } from "../../src/store/cache.ts";
import { MemoryCacheFront } from "../../src/store/memory/cache-front.ts";
import { RedisCacheStore } from "../../src/store/redis/cache.ts";
import { SqliteCacheStore } from "../../src/store/sqlite/cache.ts";
import { openDatabase } from "../../src/store/sqlite/db.ts";
import { redisServer } from "../support/engines.ts";
import { cacheStoreContract } from "./cache-store-contract.ts";
import { freshNamespace, replicaConnection } from "./cache-store-fixture.ts";

const redis = await redisServer();

describe("SqliteCacheStore", () => {
  cacheStoreContract(async () => {
    const store = new SqliteCacheStore(openDatabase(":memory:"));
    return { store, purgeCounts: true, [Symbol.asyncDispose]: async () => store.close() };
  });
});

describe("MemoryCacheFront over SqliteCacheStore", () => {
  cacheStoreContract(async () => {
    const sqlite = new SqliteCacheStore(openDatabase(":memory:"));
    return { store: new MemoryCacheFront(sqlite), purgeCounts: true, [Symbol.asyncDispose]: async () => sqlite.close() };
  });
});

describe.skipIf(!redis)("RedisCacheStore", () => {
  cacheStoreContract(async () => {
    const connection = await replicaConnection(redis!);
    return { store: new RedisCacheStore(connection, { namespace: freshNamespace("cache") }), purgeCounts: false, [Symbol.asyncDispose]: async () => connection.close() };
  });
});

describe.skipIf(!redis)("MemoryCacheFront over RedisCacheStore", () => {
  cacheStoreContract(async () => {
    const connection = await replicaConnection(redis!);
    const store = new MemoryCacheFront(new RedisCacheStore(connection, { namespace: freshNamespace("fronted") }));
    return { store, purgeCounts: false, [Symbol.asyncDispose]: async () => connection.close() };
  });
});

/** One cache as two replicas see it: every write goes to `writer`, every read to `reader`. */
function split(writer: CacheStore, reader: CacheStore): CacheStore {
  return {
    get: (key, now) => reader.get(key, now),
    put: (key, entry) => writer.put(key, entry),
    delete: (key) => writer.delete(key),
    purgeExpired: async (now) => (await writer.purgeExpired(now)) + (await reader.purgeExpired(now)),
  };
}

describe.skipIf(!redis)("RedisCacheStore, written by one replica and read by another", () => {
  cacheStoreContract(async () => {
    const a = await replicaConnection(redis!);
    const b = await replicaConnection(redis!);
    const namespace = freshNamespace("split-cache");
    return {
      store: split(new RedisCacheStore(a, { namespace }), new RedisCacheStore(b, { namespace })),
      purgeCounts: false,
      [Symbol.asyncDispose]: async () => {
        a.close();
        b.close();
      },
    };
  });
});
