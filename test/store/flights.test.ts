import { describe, expect, test } from "bun:test";
import type { CacheEntry } from "../../src/store/cache.ts";
import type { FlightStore } from "../../src/store/flights.ts";
import { MemoryFlightStore } from "../../src/store/memory/flights.ts";
import { RedisFlightStore } from "../../src/store/redis/flights.ts";
import { entryOf, flightStoreContract } from "./flight-store-contract.ts";
import { connect, engine, namespace, TIMEOUT_MS, until } from "./redis-stores-fixture.ts";

describe("MemoryFlightStore", () => {
  flightStoreContract(async () => new MemoryFlightStore());
});

describe.skipIf(!engine)("RedisFlightStore", () => {
  flightStoreContract(async () => {
    const connection = await connect();
    return Object.assign(new RedisFlightStore(connection, { namespace: namespace() }), { [Symbol.asyncDispose]: async () => connection.close() });
  });
});

/** A cache shared by the replicas, as the Redis cache store would be, counting its reads. */
function sharedCache() {
  const entries = new Map<string, CacheEntry>();
  const cache = { entries, reads: 0, read: async (key: string) => (cache.reads++, entries.get(key) ?? null) };
  return cache;
}

/**
 * One request through the cache plugin's coalescing steps: a hit, else follow a flight in the air,
 * else join (lead or follow); a leader goes upstream, stores, lands. Returns what it answered with.
 */
async function miss(flights: FlightStore, cache: ReturnType<typeof sharedCache>, upstream: (lead: boolean) => Promise<CacheEntry>, joined: () => void) {
  const hit = await cache.read("k");
  if (hit) return hit;
  const waiting = await flights.follow("k", cache.read);
  if (waiting) {
    joined();
    return (await waiting.landed) ?? upstream(false);
  }
  const flight = await flights.join("k", cache.read);
  joined();
  if (!flight.leader) return (await flight.landed) ?? upstream(false);
  const entry = await upstream(true);
  cache.entries.set("k", entry);
  flight.land(entry);
  return entry;
}

describe.skipIf(!engine)("RedisFlightStore across replicas", () => {
  test("ten identical concurrent misses spread over two replicas make one upstream call, and all ten answer with its entry", async () => {
    await using a = await connect();
    await using b = await connect();
    const ns = namespace();
    const replicas = [new RedisFlightStore(a, { namespace: ns }), new RedisFlightStore(b, { namespace: ns })];
    const cache = sharedCache();
    const calls: boolean[] = [];
    const everyoneWaits = Promise.withResolvers<void>();
    let joined = 0;
    const upstream = async (lead: boolean) => {
      calls.push(lead);
      await everyoneWaits.promise; // the leader answers only once all ten are in
      return entryOf("upstream answer");
    };
    const answers = Promise.all(Array.from({ length: 10 }, (_, i) => miss(replicas[i % 2], cache, upstream, () => ++joined === 10 && everyoneWaits.resolve())));
    expect(await answers).toEqual(Array.from({ length: 10 }, () => entryOf("upstream answer")));
    expect(calls).toEqual([true]);
    // One poll per replica reads the shared cache for all its local followers; the leader's replica reads nothing.
    expect(cache.reads).toBe(10 + 1);
    expect(replicas.map((r) => r.size)).toEqual([0, 0]);
  });

  test("a leader whose answer was not stored lands null: followers on the other replica go upstream without reading the cache", async () => {
    await using a = await connect();
    await using b = await connect();
    const ns = namespace();
    const [one, two] = [new RedisFlightStore(a, { namespace: ns }), new RedisFlightStore(b, { namespace: ns })];
    const cache = sharedCache();
    const leader = await one.join("k", cache.read);
    const follower = await two.join("k", cache.read);
    if (!leader.leader || follower.leader) throw new Error("expected a leader on one replica and a follower on the other");
    leader.land(null);
    expect(await follower.landed).toBeNull();
    expect(cache.reads).toBe(0);
  });

  test("a miss that joins just after a flight landed with its answer stored gets that answer, not a second upstream call; once the cache lost it, it leads", async () => {
    await using a = await connect();
    await using b = await connect();
    const ns = namespace();
    const [one, two] = [new RedisFlightStore(a, { namespace: ns }), new RedisFlightStore(b, { namespace: ns })];
    const cache = sharedCache();
    const leader = await one.join("k", cache.read);
    if (!leader.leader) throw new Error("expected the first join to lead");
    // The other replica's request missed the cache before the answer was stored, and joins after the landing.
    cache.entries.set("k", entryOf("the leader's answer"));
    leader.land(entryOf("the leader's answer"));
    await until(async () => (await a.send("GET", [`${ns}flight:k`])) === "landed:1", "the flight landed");

    const late = await two.join("k", cache.read);
    expect(late.leader).toBe(false);
    expect(await (late as { landed: Promise<CacheEntry | null> }).landed).toEqual(entryOf("the leader's answer"));

    cache.entries.delete("k");
    expect((await two.join("k", cache.read)).leader).toBe(true);
  });

  test("a follower of a leader that never lands (its replica died) goes upstream itself after maxWaitMs", async () => {
    await using a = await connect();
    await using b = await connect();
    const ns = namespace();
    const dead = new RedisFlightStore(a, { namespace: ns });
    const waiting = new RedisFlightStore(b, { namespace: ns, maxWaitMs: 300 });
    expect((await dead.join("k", async () => null)).leader).toBe(true);
    const started = performance.now();
    const follower = await waiting.join("k", async () => null);
    expect(follower.leader).toBe(false);
    expect(await (follower as { landed: Promise<CacheEntry | null> }).landed).toBeNull();
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(295);
    expect(waited).toBeLessThan(300 + 500);
  });

  test("a leader's flight expires after leadMs: then the next miss on any replica leads", async () => {
    await using a = await connect();
    await using b = await connect();
    const ns = namespace();
    const stale = new RedisFlightStore(a, { namespace: ns, leadMs: 200 });
    const fresh = new RedisFlightStore(b, { namespace: ns });
    expect((await stale.join("k", async () => null)).leader).toBe(true);
    expect(await fresh.follow("k", async () => null)).not.toBeNull();
    await until(async () => (await fresh.follow("k", async () => null)) === null, "the flight expired");
    expect((await fresh.join("k", async () => null)).leader).toBe(true);
  });
});

describe.skipIf(!engine)("RedisFlightStore when Redis is away", () => {
  test("coalesces in process within the timeout, and across replicas again after start, on the same stores", async () => {
    await using a = await connect();
    await using b = await connect();
    const ns = namespace();
    const [one, two] = [new RedisFlightStore(a, { namespace: ns }), new RedisFlightStore(b, { namespace: ns })];
    const read = async () => null;
    await one.join("warm", read); // the script is cached on the server
    await engine!.stop();
    try {
      const started = performance.now();
      expect(await one.follow("k", read)).toBeNull();
      const leader = await one.join("k", read);
      const follower = await one.join("k", read);
      expect(performance.now() - started).toBeLessThan(2 * 2 * TIMEOUT_MS);
      if (!leader.leader || follower.leader) throw new Error("expected a local leader and follower");
      leader.land(entryOf("local"));
      expect(await follower.landed).toEqual(entryOf("local"));
    } finally {
      await engine!.start();
    }
    await until(async () => {
      const flight = await one.join("after", read);
      if (flight.leader) flight.land(null);
      return a.connected && flight.leader && (await two.follow("after", read)) === null;
    }, "Redis answering again");
    const leader = await one.join("shared", read);
    const follower = await two.join("shared", read);
    expect([leader.leader, follower.leader]).toEqual([true, false]);
    if (leader.leader) leader.land(null);
  });
});
