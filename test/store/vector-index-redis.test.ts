import { describe, expect, test } from "bun:test";
import { RedisVectorIndex, type RedisVectorIndexOptions } from "../../src/store/redis/vectors.ts";
import { redisServer } from "../support/engines.ts";
import { eventually, faulty, freshNamespace, rawClient, replicaConnection, testHealth, TIMEOUT_MS, withinTimeout } from "./cache-store-fixture.ts";
import { v } from "./vector-index-contract.ts";

const redis = await redisServer();
const HOUR = 3_600_000;

/** The unit vector along axis `i` of `n` dimensions. */
const axis = (i: number, n: number) => Float32Array.from({ length: n }, (_, j) => (j === i ? 1 : 0));

/** Two replicas of one index: two connections, the same namespace; options per replica. */
async function replicas(a: RedisVectorIndexOptions = {}, b: RedisVectorIndexOptions = a) {
  const namespace = freshNamespace("vector-replicas");
  const healthA = testHealth();
  const healthB = testHealth();
  const connA = await replicaConnection(redis!, healthA);
  const connB = await replicaConnection(redis!, healthB);
  return {
    namespace,
    healthB,
    a: new RedisVectorIndex(connA, { ...a, namespace, health: healthA }),
    b: new RedisVectorIndex(connB, { ...b, namespace, health: healthB }),
    [Symbol.asyncDispose]: async () => {
      connA.close();
      connB.close();
    },
  };
}

describe.skipIf(!redis)("RedisVectorIndex across replicas", () => {
  test("a vector added by one replica is the nearest for the other, which had searched the partition before", async () => {
    await using r = await replicas();
    const t = Date.now();
    expect(await r.b.nearest("p", v(1, 0), t)).toBeNull();
    await r.a.add("p", "first", v(1, 1), t + HOUR);
    expect(await r.b.nearest("p", v(1, 0), t)).toEqual({ key: "first", similarity: expect.closeTo(Math.SQRT1_2, 5) });
    await r.a.add("p", "closer", v(5, 0), t + HOUR);
    expect(await r.b.nearest("p", v(1, 0), t)).toEqual({ key: "closer", similarity: expect.closeTo(1, 5) });
    // And back: what B adds, A finds, on top of its own.
    await r.b.add("p", "from-b", v(0, 1), t + HOUR);
    expect(await r.a.nearest("p", v(0, 1), t)).toEqual({ key: "from-b", similarity: expect.closeTo(1, 5) });
    expect([r.a.size, r.b.size]).toEqual([3, 3]);
  });

  test("a replica's own add never hides an add another replica made just before it", async () => {
    await using r = await replicas();
    const t = Date.now();
    await r.a.add("p", "seen", v(1, 0, 0), t + HOUR);
    expect(await r.b.nearest("p", v(1, 0, 0), t)).toEqual({ key: "seen", similarity: expect.closeTo(1, 5) });
    await r.a.add("p", "from-a", v(0, 1, 0), t + HOUR);
    await r.b.add("p", "from-b", v(0, 0, 1), t + HOUR);
    expect(await r.b.nearest("p", v(0, 1, 0), t)).toEqual({ key: "from-a", similarity: expect.closeTo(1, 5) });
    expect(r.b.size).toBe(3);
  });

  test("a delete and an eviction on one replica reach the other's copy", async () => {
    await using r = await replicas({ maxPerPartition: 2 });
    const t = Date.now();
    await r.a.add("p", "x", v(1, 0, 0), t + HOUR);
    await r.a.add("p", "y", v(0, 1, 0), t + HOUR);
    expect(await r.b.nearest("p", v(1, 0, 0), t)).toEqual({ key: "x", similarity: expect.closeTo(1, 5) });
    expect(await r.a.delete("p", "x")).toBe(true);
    expect(await r.b.nearest("p", v(1, 0, 0), t)).toEqual({ key: "y", similarity: expect.closeTo(0, 5) });
    await r.a.add("p", "z", v(0, 0, 1), t + HOUR);
    await r.a.add("p", "w", v(1, 0, 1), t + HOUR); // over the bound: y, the oldest, is evicted
    expect(await r.b.nearest("p", v(0, 1, 0), t)).toEqual({ key: expect.stringMatching(/^(z|w)$/), similarity: expect.closeTo(0, 5) });
    expect(r.b.size).toBe(2);
  });

  test("a replica that joins late loads a partition larger than a page, a few pages per search", async () => {
    await using r = await replicas({}, { pageSize: 2, maxPagesPerSearch: 2 });
    const t = Date.now();
    for (let i = 0; i < 9; i++) await r.a.add("p", `axis-${i}`, axis(i, 9), t + HOUR);
    const newest = axis(8, 9);
    const searches = [];
    for (let i = 0; i < 3; i++) searches.push(await r.b.nearest("p", newest, t));
    // Oldest first: 4 vectors after the first search, 8 after the second, all 9 after the third.
    expect(searches.map((match) => match?.similarity)).toEqual([expect.closeTo(0, 5), expect.closeTo(0, 5), expect.closeTo(1, 5)]);
    expect(searches[2]?.key).toBe("axis-8");
    expect(r.b.size).toBe(9);
  });

  test("a replica too far behind (its tombstones forgotten) reloads the partition and drops what was deleted", async () => {
    await using r = await replicas({ maxTombstones: 1 });
    const t = Date.now();
    for (const [i, key] of ["a", "b", "c"].entries()) await r.a.add("p", key, axis(i, 3), t + HOUR);
    expect(await r.b.nearest("p", axis(2, 3), t)).toEqual({ key: "c", similarity: expect.closeTo(1, 5) });
    await r.a.delete("p", "a");
    await r.a.delete("p", "b");
    const found = [await r.b.nearest("p", axis(0, 3), t), await r.b.nearest("p", axis(1, 3), t)];
    expect(found.map((match) => match?.key)).toEqual(["c", "c"]);
    expect(r.b.size).toBe(1);
  });

  test("maxBytes bounds a replica's copy only: Redis and the other replica keep every vector", async () => {
    await using r = await replicas({}, { maxBytes: 2 * 4 * 4 });
    const t = Date.now();
    for (let i = 0; i < 3; i++) await r.a.add("p", `axis-${i}`, axis(i, 4), t + HOUR);
    expect(await r.b.nearest("p", axis(0, 4), t)).toEqual({ key: expect.stringMatching(/^axis-[12]$/), similarity: expect.closeTo(0, 5) });
    expect(r.b.size).toBe(2);
    expect(await r.a.nearest("p", axis(0, 4), t)).toEqual({ key: "axis-0", similarity: expect.closeTo(1, 5) });
  });

  test("every key of a partition expires an hour after its last vector would, so an abandoned partition leaves nothing", async () => {
    await using r = await replicas();
    await using raw = rawClient(redis!);
    const t = Date.now();
    await r.a.add("gw:p", "k", v(1, 0), t + 60_000);
    await r.a.add("gw:p", "gone", v(0, 1), t + 60_000);
    await r.a.delete("gw:p", "gone");
    const ttls = await Promise.all(["meta", "vec", "live", "gone", "exp"].map(async (part) => Number(await raw.send("PTTL", [`${r.namespace}vectors:{gw:p}:${part}`]))));
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(HOUR);
      expect(ttl).toBeLessThanOrEqual(HOUR + 60_000);
    }
  });
});

describe.skipIf(!redis)("RedisVectorIndex when Redis goes away", () => {
  test("paused (Redis holds every command): a search answers null at the timeout, then finds the vector again", async () => {
    await using r = await replicas();
    await using raw = rawClient(redis!);
    const t = Date.now();
    await r.a.add("p", "held", v(1, 0), t + HOUR);
    await raw.send("CLIENT", ["PAUSE", String(TIMEOUT_MS * 3), "ALL"]);
    try {
      expect(await withinTimeout(() => r.b.nearest("p", v(1, 0), t))).toBeNull();
    } finally {
      await raw.send("CLIENT", ["UNPAUSE"]);
    }
    expect(await r.b.nearest("p", v(1, 0), t)).toEqual({ key: "held", similarity: expect.closeTo(1, 5) });
  });

  test("stopped: searches miss and adds are skipped within the timeout; after start the same instances work, on an empty Redis", async () => {
    await using r = await replicas();
    const t = Date.now();
    await r.a.add("p", "before", v(1, 0), t + HOUR);
    expect(await r.b.nearest("p", v(1, 0), t)).toEqual({ key: "before", similarity: expect.closeTo(1, 5) });
    await redis!.stop();
    try {
      expect(await withinTimeout(() => r.b.nearest("p", v(1, 0), t))).toBeNull();
      expect(await withinTimeout(() => r.a.add("p", "during", v(0, 1), t + HOUR))).toBeUndefined();
      expect(await withinTimeout(() => r.b.delete("p", "before"))).toBe(true); // B's own copy had it
      expect(await withinTimeout(() => r.b.purgeExpired(t + 2 * HOUR))).toBe(0);
      expect(faulty(r.healthB)).toEqual(["redis"]);
    } finally {
      await redis!.start();
    }
    // Redis came back empty: A's old vector is gone for everyone, and a new one is shared again.
    await eventually(async () => {
      await r.a.add("p", "after", v(0, 1), t + HOUR);
      return (await r.b.nearest("p", v(0, 1), t))?.key === "after";
    }, "the index works again after Redis came back");
    expect(await r.b.nearest("p", v(1, 0), t)).toEqual({ key: "after", similarity: expect.closeTo(0, 5) });
    expect(await r.a.nearest("p", v(1, 0), t)).toEqual({ key: "after", similarity: expect.closeTo(0, 5) });
    expect([r.a.size, r.b.size]).toEqual([1, 1]);
    expect(faulty(r.healthB)).toEqual([]);
  });
});
