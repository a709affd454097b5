import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { CacheStore } from "../../src/store/cache.ts";
import { MemoryCacheFront } from "../../src/store/memory/cache-front.ts";
import { RedisCacheStore } from "../../src/store/redis/cache.ts";
import { SqliteCacheStore } from "../../src/store/sqlite/cache.ts";
import { openDatabase } from "../../src/store/sqlite/db.ts";
import { tempFolder } from "../support/cli.ts";
import { redisServer } from "../support/engines.ts";
import { cacheStoreContract, entryAt } from "./cache-store-contract.ts";
import { freshNamespace, replicaConnection } from "./cache-store-fixture.ts";

const redis = await redisServer();

describe("SqliteCacheStore", () => {
  cacheStoreContract(async () => {
    const store = new SqliteCacheStore(openDatabase(":memory:"));
    return { store, purgeCounts: true, [Symbol.asyncDispose]: async () => store.close() };
  });
});

describe("SqliteCacheStore on a file", () => {
  test("a file of the first schema (key as primary key) is upgraded: its live rows are served, its expired ones dropped", async () => {
    using folder = tempFolder();
    const path = join(folder.path, "switchboard.cache.db");
    const t = Date.now();
    const old = openDatabase(path);
    old.run(`CREATE TABLE cache (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL, status INTEGER NOT NULL,
      step INTEGER NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL); CREATE INDEX cache_expires_at ON cache (expires_at)`);
    const insert = old.query("INSERT INTO cache (key, expires_at, created_at, status, step, headers, body) VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (const [key, entry] of [["gw:live", entryAt(t)], ["gw:expired", entryAt(t - 120_000)]] as const) {
      insert.run(key, entry.expiresAt, entry.createdAt, entry.status, entry.step, JSON.stringify(entry.headers), entry.body);
    }
    old.run("INSERT INTO schema_versions (concern, version) VALUES ('cache', 1)");
    old.close();

    const store = new SqliteCacheStore(openDatabase(path));
    // Asked at a time the expired row was still live: it is gone from the file, not merely filtered.
    expect([await store.get("gw:live", t), await store.get("gw:expired", t - 120_000)]).toEqual([entryAt(t), null]);
    store.close();
    using db = openDatabase(path);
    expect(db.query("SELECT key FROM cache").all()).toEqual([{ key: "gw:live" }]);
    expect(db.query("SELECT version FROM schema_versions WHERE concern = 'cache'").get()).toEqual({ version: 2 });
  });

  test("a key put again serves its newest entry after a restart", async () => {
    using folder = tempFolder();
    const path = join(folder.path, "switchboard.cache.db");
    const t = Date.now();
    const first = new SqliteCacheStore(openDatabase(path));
    await first.put("gw:again", entryAt(t, new Uint8Array([1])));
    first.flush();
    await first.put("gw:other", entryAt(t, new Uint8Array([2])));
    await first.put("gw:again", entryAt(t + 1, new Uint8Array([3])));
    first.close();

    const restarted = new SqliteCacheStore(openDatabase(path));
    expect([await restarted.get("gw:again", t + 1), await restarted.get("gw:other", t)]).toEqual([entryAt(t + 1, new Uint8Array([3])), entryAt(t, new Uint8Array([2]))]);
    restarted.close();
  });

  test("two keys that share their index slot (the same last 52 bits of hash) never serve each other's entry", async () => {
    const store = new SqliteCacheStore(openDatabase(":memory:"));
    const t = Date.now();
    const tail = "0123456789abc";
    const [a, b] = [`gw:${"a".repeat(51)}${tail}`, `gw:${"b".repeat(51)}${tail}`];
    await store.put(a, entryAt(t, new Uint8Array([1])));
    store.flush();
    await store.put(b, entryAt(t, new Uint8Array([2])));
    store.flush();

    // The later one holds the slot; the earlier is a miss, never the other's answer.
    expect([await store.get(a, t), await store.get(b, t)]).toEqual([null, entryAt(t, new Uint8Array([2]))]);
    expect(await store.delete(a)).toBe(false);
    expect(await store.get(b, t)).toEqual(entryAt(t, new Uint8Array([2])));
    store.close();
  });

  test("two gateways on one file: the later write of a key wins after a restart, and a row one frees and reuses never serves another key to the other", async () => {
    using folder = tempFolder();
    const path = join(folder.path, "switchboard.cache.db");
    const t = Date.now();
    const a = new SqliteCacheStore(openDatabase(path));
    const b = new SqliteCacheStore(openDatabase(path));
    await a.put("gw:both", entryAt(t, new Uint8Array([1])));
    a.flush();
    await b.put("gw:both", entryAt(t + 1, new Uint8Array([2])));
    b.close();
    a.close();
    const restarted = new SqliteCacheStore(openDatabase(path));
    expect(await restarted.get("gw:both", t + 1)).toEqual(entryAt(t + 1, new Uint8Array([2])));
    restarted.close();

    using other = tempFolder();
    const shared = join(other.path, "switchboard.cache.db");
    const first = new SqliteCacheStore(openDatabase(shared));
    await first.put("gw:mine", entryAt(t, new Uint8Array([1])));
    first.flush();
    const second = new SqliteCacheStore(openDatabase(shared));
    expect(await second.delete("gw:mine")).toBe(true);
    await second.put("gw:theirs", entryAt(t, new Uint8Array([2])));
    second.close();
    // "gw:theirs" took the rowid "gw:mine" had: the first gateway must see a miss, not the other answer.
    expect(await first.get("gw:mine", t)).toBeNull();
    first.close();
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
