import { describe, expect, test } from "bun:test";
import { MemoryCacheFront } from "../../src/store/memory/cache-front.ts";
import { RedisCacheStore } from "../../src/store/redis/cache.ts";
import { redisServer } from "../support/engines.ts";
import { entryAt } from "./cache-store-contract.ts";
import { eventually, faulty, freshNamespace, rawClient, replicaConnection, testHealth, TIMEOUT_MS, withinTimeout } from "./cache-store-fixture.ts";

const redis = await redisServer();
const MiB = 1024 * 1024;

/** Two replicas: two connections to the suite's Redis, two stores with the same namespace. */
async function replicas() {
  const namespace = freshNamespace("replicas");
  const a = await replicaConnection(redis!);
  const b = await replicaConnection(redis!);
  return {
    namespace,
    a: new RedisCacheStore(a, { namespace }),
    b: new RedisCacheStore(b, { namespace }),
    [Symbol.asyncDispose]: async () => {
      a.close();
      b.close();
    },
  };
}

describe.skipIf(!redis)("RedisCacheStore across replicas", () => {
  test("a 1 MiB body put by one replica is got by the other byte for byte, and a delete on either is seen by both", async () => {
    await using r = await replicas();
    const t = Date.now();
    const body = crypto.getRandomValues(new Uint8Array(MiB));
    await r.a.put("gw:large", entryAt(t, body));
    const got = await r.b.get("gw:large", t);
    expect(got?.body.byteLength).toBe(MiB);
    expect(Bun.hash(got!.body)).toBe(Bun.hash(body));
    expect(got).toEqual(entryAt(t, body));
    expect(await r.b.delete("gw:large")).toBe(true);
    expect(await r.a.get("gw:large", t)).toBeNull();
  });

  test("behind a MemoryCacheFront, a replica never serves its copy past expiresAt and then serves the other's replacement", async () => {
    await using r = await replicas();
    const frontA = new MemoryCacheFront(r.a);
    const frontB = new MemoryCacheFront(r.b);
    const t = Date.now();
    const first = entryAt(t, new Uint8Array([1]), 1_000);
    await frontA.put("gw:custom-key", first);
    expect(await frontB.get("gw:custom-key", t)).toEqual(first);
    // B saw it expire (its clock, or a replica whose copy is gone) and wrote a new answer under the same key.
    const second = entryAt(first.expiresAt, new Uint8Array([2]));
    await frontB.put("gw:custom-key", second);
    // A's front drops its expired copy (never the old answer) and asks Redis, which has B's.
    expect(await frontA.get("gw:custom-key", first.expiresAt)).toEqual(second);
    expect(await r.a.get("gw:custom-key", first.expiresAt)).toEqual(second);
  });

  test("Redis forgets an entry when it expires: the key carries the entry's lifetime as its PX", async () => {
    await using r = await replicas();
    await using raw = rawClient(redis!);
    const t = Date.now();
    await r.a.put("gw:px", entryAt(t, new Uint8Array([1]), 30_000));
    const pttl = Number(await raw.send("PTTL", [`${r.namespace}cache:gw:px`]));
    expect(pttl).toBeGreaterThan(25_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
    // Already dead when written: the key is removed, not kept.
    await r.a.put("gw:px", { ...entryAt(t), expiresAt: t });
    expect(await raw.send("EXISTS", [`${r.namespace}cache:gw:px`])).toBe(0);
  });

  test("a body over maxBodyBytes is not stored; one at the limit is", async () => {
    await using connection = await replicaConnection(redis!);
    const store = new RedisCacheStore(connection, { namespace: freshNamespace("max"), maxBodyBytes: 1_000 });
    const t = Date.now();
    await store.put("gw:over", entryAt(t, new Uint8Array(1_001)));
    await store.put("gw:at", entryAt(t, new Uint8Array(1_000)));
    expect([await store.get("gw:over", t), (await store.get("gw:at", t))?.body.byteLength]).toEqual([null, 1_000]);
  });

  test("a value the store cannot read (damaged, or another writer's) is a miss reported as a cache fault", async () => {
    const health = testHealth();
    await using connection = await replicaConnection(redis!);
    await using raw = rawClient(redis!);
    const namespace = freshNamespace("damaged");
    const store = new RedisCacheStore(connection, { namespace, health });
    const t = Date.now();
    await store.put("gw:cut", entryAt(t));
    const whole = String(await raw.send("GET", [`${namespace}cache:gw:cut`]));
    await raw.send("SET", [`${namespace}cache:gw:cut`, whole.slice(0, -8)]);
    await raw.send("SET", [`${namespace}cache:gw:text`, "hello"]);
    await raw.send("HSET", [`${namespace}cache:gw:hash`, "a", "1"]);
    expect([await store.get("gw:cut", t), await store.get("gw:text", t), await store.get("gw:hash", t)]).toEqual([null, null, null]);
    expect(faulty(health)).toEqual(["cache"]);
  });
});

describe.skipIf(!redis)("RedisCacheStore when Redis goes away", () => {
  test("stopped: get misses, put and delete are skipped, all within the timeout; the same store works again after start", async () => {
    const health = testHealth();
    await using connection = await replicaConnection(redis!, health);
    const store = new RedisCacheStore(connection, { namespace: freshNamespace("stopped"), health });
    const t = Date.now();
    await store.put("gw:before", entryAt(t));
    await redis!.stop();
    try {
      expect(await withinTimeout(() => store.get("gw:before", t))).toBeNull();
      expect(await withinTimeout(() => store.put("gw:during", entryAt(t)))).toBeUndefined();
      expect(await withinTimeout(() => store.delete("gw:before"))).toBe(false);
      expect(await withinTimeout(() => store.purgeExpired(t))).toBe(0);
      expect(faulty(health)).toEqual(["redis"]);
    } finally {
      await redis!.start();
    }
    // A restarted Redis is empty (entries are disposable); the store writes and reads again on its own.
    await eventually(async () => {
      await store.put("gw:after", entryAt(t));
      return (await store.get("gw:after", t)) !== null;
    }, "the store works again after Redis came back");
    expect(await store.get("gw:before", t)).toBeNull();
    expect(await store.get("gw:after", t)).toEqual(entryAt(t));
    expect(faulty(health)).toEqual([]);
  });

  test("paused (Redis holds every command): get answers a miss at the timeout instead of waiting", async () => {
    await using connection = await replicaConnection(redis!);
    await using raw = rawClient(redis!);
    const store = new RedisCacheStore(connection, { namespace: freshNamespace("paused") });
    const t = Date.now();
    await store.put("gw:held", entryAt(t));
    await raw.send("CLIENT", ["PAUSE", String(TIMEOUT_MS * 4), "ALL"]);
    try {
      const started = performance.now();
      expect(await withinTimeout(() => store.get("gw:held", t))).toBeNull();
      expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    } finally {
      await raw.send("CLIENT", ["UNPAUSE"]);
    }
    expect(await store.get("gw:held", t)).toEqual(entryAt(t));
  });
});
