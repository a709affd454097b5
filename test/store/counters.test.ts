import { describe, expect, test } from "bun:test";
import { MemoryCounterStore } from "../../src/store/memory/counters.ts";
import { OUTAGE_RETRY_MS, RedisCounterStore } from "../../src/store/redis/counters.ts";
import { counterStoreContract } from "./counter-store-contract.ts";
import { connect, engine, namespace, rawClient, TIMEOUT_MS, until } from "./redis-stores-fixture.ts";

describe("MemoryCounterStore", () => {
  counterStoreContract(async () => new MemoryCounterStore());
});

describe.skipIf(!engine)("RedisCounterStore", () => {
  counterStoreContract(async () => {
    const connection = await connect();
    const store = new RedisCounterStore(connection, { limitsWhenDown: "open", namespace: namespace() });
    return Object.assign(store, { close: async () => connection.close() });
  });
});

describe.skipIf(!engine)("RedisCounterStore across replicas", () => {
  const minute = (key: string, sliding: boolean) => ({ key, windowMs: 60_000, limit: 50, cost: 1, sliding });

  for (const sliding of [false, true]) {
    test(`two stores on one Redis let exactly 50 of 200 concurrent takes through (${sliding ? "sliding" : "fixed"})`, async () => {
      await using a = await connect();
      await using b = await connect();
      const ns = namespace();
      const stores = [new RedisCounterStore(a, { limitsWhenDown: "closed", namespace: ns }), new RedisCounterStore(b, { limitsWhenDown: "closed", namespace: ns })];
      const now = Date.UTC(2030, 0, 1, 12, 0, 30);
      const decisions = await Promise.all(Array.from({ length: 200 }, (_, i) => stores[i % 2].take([minute("crowd", sliding)], now)));
      expect(decisions.filter((d) => d.unavailable)).toEqual([]);
      const allowed = decisions.map((d, i) => (d.allowed ? i % 2 : null)).filter((side) => side !== null);
      expect(allowed).toHaveLength(50);
      // What one replica charged the other sees.
      expect((await stores[1].take([{ ...minute("crowd", sliding), cost: 0 }], now)).windows[0]).toMatchObject({ allowed: false, count: 50, remaining: 0 });
    });
  }

  test("a batch refused by one counter charges none, whichever replica asks", async () => {
    await using a = await connect();
    await using b = await connect();
    const ns = namespace();
    const [one, two] = [new RedisCounterStore(a, { limitsWhenDown: "open", namespace: ns }), new RedisCounterStore(b, { limitsWhenDown: "open", namespace: ns })];
    const now = Date.UTC(2030, 0, 1);
    const batch = [minute("wide", false), { ...minute("narrow", false), limit: 1 }];
    expect((await one.take(batch, now)).allowed).toBe(true);
    expect((await two.take(batch, now)).allowed).toBe(false);
    expect((await two.take([{ ...minute("wide", false), cost: 0 }], now)).windows[0].count).toBe(1);
  });

  test("each window is one key that expires two windows after its window began", async () => {
    await using a = await connect();
    const ns = namespace();
    const store = new RedisCounterStore(a, { limitsWhenDown: "open", namespace: ns });
    const now = Date.now();
    await store.take([minute("ttl", false)], now);
    const window = Math.floor(now / 60_000);
    const ttl = Number(await a.send("PTTL", [`${ns}counter:60000:${window}:ttl`]));
    const expected = (window + 2) * 60_000 - now;
    expect(ttl).toBeLessThanOrEqual(expected);
    expect(ttl).toBeGreaterThan(expected - 5_000);
  });
});

describe.skipIf(!engine)("RedisCounterStore when Redis is away", () => {
  const req = { key: "k", windowMs: 60_000, limit: 7, cost: 1, sliding: false };

  test("stopped mid-traffic: every take answers within the timeout by the policy, then the same store counts again after start", async () => {
    await using connection = await connect();
    const ns = namespace();
    const open = new RedisCounterStore(connection, { limitsWhenDown: "open", namespace: ns });
    const closed = new RedisCounterStore(connection, { limitsWhenDown: "closed", namespace: ns });
    const now = Date.UTC(2030, 0, 1, 0, 0, 15);
    expect((await open.take([req], now)).windows[0].count).toBe(1);
    const slowest = { ms: 0 };
    const timed = async <T>(call: () => Promise<T>) => {
      const started = performance.now();
      const result = await call();
      slowest.ms = Math.max(slowest.ms, performance.now() - started);
      return result;
    };
    // Traffic keeps flowing while the server dies.
    const traffic = Promise.all(Array.from({ length: 40 }, (_, i) => Bun.sleep(i * 5).then(() => timed(() => open.take([req], now)))));
    await engine!.stop();
    try {
      await traffic;
      const down = await timed(() => open.take([req], now));
      expect(down).toEqual({ allowed: true, unavailable: true, windows: [{ allowed: true, count: 0, remaining: 7, resetMs: 45_000 }] });
      expect(await timed(() => closed.take([req], now))).toEqual({ allowed: false, unavailable: true, windows: [{ allowed: false, count: 0, remaining: 0, resetMs: OUTAGE_RETRY_MS }] });
      await timed(() => open.add("k", 60_000, 5, now));
      expect(connection.health.snapshot().faults.map((f) => f.component)).toEqual(["redis"]);
    } finally {
      await engine!.start();
    }
    // Each call answered; none waited on the dead server past the timeout (a script may send twice: EVALSHA, then EVAL after NOSCRIPT).
    expect(slowest.ms).toBeLessThan(2 * TIMEOUT_MS + 300);
    // The same store, not recreated: counting again on an empty Redis (counters are disposable).
    await until(async () => !(await open.take([req], now)).unavailable, "counting again after Redis came back");
    expect((await closed.take([req], now)).windows[0]).toMatchObject({ allowed: true, count: 2 });
    expect(connection.health.snapshot().faults).toEqual([]);
  });

  test("paused (Redis holds every command): take answers by the policy at the timeout instead of waiting", async () => {
    await using connection = await connect();
    await using admin = rawClient();
    const store = new RedisCounterStore(connection, { limitsWhenDown: "closed", namespace: namespace() });
    const now = Date.UTC(2030, 0, 1);
    await store.take([req], now); // the script is cached on the server: a paused one then holds exactly one EVALSHA
    await admin.send("CLIENT", ["PAUSE", String(TIMEOUT_MS * 3), "ALL"]);
    try {
      const started = performance.now();
      const decision = await store.take([req], now);
      const took = performance.now() - started;
      expect(decision).toMatchObject({ allowed: false, unavailable: true });
      expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      expect(took).toBeLessThan(TIMEOUT_MS + 300);
    } finally {
      await admin.send("CLIENT", ["UNPAUSE"]);
    }
    await until(async () => !(await store.take([{ ...req, cost: 0 }], now)).unavailable, "answering again after the pause");
  });
});
