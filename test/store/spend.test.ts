import { describe, expect, test } from "bun:test";
import { MemorySpendStore } from "../../src/store/memory/spend.ts";
import { RedisUnavailable } from "../../src/store/redis/connection.ts";
import { OUTAGE_RETRY_MS } from "../../src/store/redis/counters.ts";
import { RedisSpendStore } from "../../src/store/redis/spend.ts";
import { spendStoreContract } from "./spend-store-contract.ts";
import { connect, engine, namespace, rawClient, TIMEOUT_MS, until } from "./redis-stores-fixture.ts";

describe("MemorySpendStore", () => {
  spendStoreContract(async () => new MemorySpendStore());
});

describe.skipIf(!engine)("RedisSpendStore", () => {
  spendStoreContract(async () => {
    const connection = await connect();
    const store = new RedisSpendStore(connection, { limitsWhenDown: "open", namespace: namespace() });
    return Object.assign(store, { close: async () => connection.close() });
  });
});

const DAY = 86_400_000;
const NOW = Date.UTC(2030, 0, 1, 6);
const req = (key: string, limit: number, reserve: number) => ({ key, windowMs: DAY, limit, sliding: false, reserve });
const charge = (key: string, reserved: number, cost: number) => ({ key, windowMs: DAY, reserved, cost });

describe.skipIf(!engine)("RedisSpendStore across replicas", () => {
  test("300 concurrent admissions on two stores against 1 USD holding 0.01 each: exactly 100 admitted, settled to exactly 1 USD", async () => {
    await using a = await connect();
    await using b = await connect();
    const ns = namespace();
    const stores = [new RedisSpendStore(a, { limitsWhenDown: "closed", namespace: ns }), new RedisSpendStore(b, { limitsWhenDown: "closed", namespace: ns })];
    const decisions = await Promise.all(Array.from({ length: 300 }, (_, i) => stores[i % 2].reserve([req("budget:gw:0:gateway", 1, 0.01)], NOW)));
    const admitted = decisions.flatMap((d, i) => (d.allowed ? [i % 2] : []));
    expect(admitted).toHaveLength(100);
    expect((await stores[0].list("budget:gw:", NOW))[0]).toMatchObject({ spent: 0, reserved: 1 });
    // Each admitted request costs what it reserved, settled on the replica that admitted it.
    await Promise.all(admitted.map((side) => stores[side].settle([charge("budget:gw:0:gateway", 0.01, 0.01)], NOW)));
    // Nano-dollar integers: a hundred 0.01 make exactly 1 (floats would say 1.0000000000000007).
    expect((await stores[1].list("budget:gw:", NOW))[0]).toMatchObject({ spent: 1, reserved: 0 });
    expect(await a.send("HGET", [`${ns}spend:budget:gw:0:gateway`, "cur"])).toBe("1000000000");
    expect((await stores[0].reserve([req("budget:gw:0:gateway", 1, 0)], NOW)).allowed).toBe(false);
  });
});

describe.skipIf(!engine)("RedisSpendStore when Redis is away", () => {
  test("stopped: reserve answers by the policy within the timeout, settle does not throw and lands after start, on the same store", async () => {
    await using connection = await connect();
    const ns = namespace();
    const open = new RedisSpendStore(connection, { limitsWhenDown: "open", namespace: ns });
    const closed = new RedisSpendStore(connection, { limitsWhenDown: "closed", namespace: ns });
    expect((await open.reserve([req("b", 1, 0.25)], NOW)).allowed).toBe(true);
    let slowest = 0;
    const timed = async <T>(call: () => Promise<T>) => {
      const started = performance.now();
      const result = await call();
      slowest = Math.max(slowest, performance.now() - started);
      return result;
    };
    await engine!.stop();
    try {
      expect(await timed(() => open.reserve([req("b", 1, 0.25)], NOW))).toEqual({
        allowed: true,
        unavailable: true,
        windows: [{ allowed: true, spent: 0, reserved: 0, windowStart: Date.UTC(2030, 0, 1), resetMs: 18 * 3_600_000 }],
      });
      expect(await timed(() => closed.reserve([req("b", 1, 0.25)], NOW))).toMatchObject({ allowed: false, unavailable: true, windows: [{ allowed: false, resetMs: OUTAGE_RETRY_MS }] });
      await timed(() => open.settle([charge("b", 0.25, 0.5)], NOW));
      expect(open.unsettled).toBe(1);
      expect(await open.list("", NOW).catch((error) => error)).toBeInstanceOf(RedisUnavailable);
    } finally {
      await engine!.start();
    }
    expect(slowest).toBeLessThan(2 * TIMEOUT_MS + 300);
    // The restarted Redis is empty; the kept settlement is retried once a call gets through again.
    await until(async () => !("unavailable" in (await open.reserve([req("b", 1, 0)], NOW))) && open.unsettled === 0, "settling again after Redis came back");
    await until(async () => (await open.list("", NOW)).length > 0, "the kept settlement landed");
    expect(await open.list("", NOW)).toEqual([{ key: "b", windowMs: DAY, sliding: false, spent: 0.5, reserved: 0, windowStart: Date.UTC(2030, 0, 1), resetsAt: Date.UTC(2030, 0, 2) }]);
  });

  test("paused: calls that timed out but ran later are applied exactly once, and only what Redis held is released", async () => {
    await using connection = await connect();
    await using admin = rawClient();
    const ns = namespace();
    const open = new RedisSpendStore(connection, { limitsWhenDown: "open", namespace: ns });
    const closed = new RedisSpendStore(connection, { limitsWhenDown: "closed", namespace: ns });
    // Scripts cached on the server first: an EVALSHA held by the pause would otherwise fail NOSCRIPT when it finally runs.
    await closed.reserve([req("b", 10, 0)], NOW);
    await closed.settle([charge("b", 0, 0)], NOW);
    expect((await open.reserve([req("b", 10, 0.5)], NOW)).allowed).toBe(true); // settled during the pause
    expect((await open.reserve([req("b", 10, 0.5)], NOW)).allowed).toBe(true); // still running at the end
    await admin.send("CLIENT", ["PAUSE", String(TIMEOUT_MS * 3), "ALL"]);
    // Each of these times out and then runs on the server once the pause ends, in this order.
    await open.settle([charge("b", 0.5, 0.25)], NOW);
    const uncertain = await open.reserve([req("b", 10, 0.25)], NOW); // admitted by the policy, then held by Redis
    const refused = await closed.reserve([req("b", 0.5, 2)], NOW); // refused by the policy, and by Redis too (full)
    expect([uncertain.allowed, refused.allowed, open.unsettled, closed.unsettled]).toEqual([true, false, 1, 1]);
    // Once Redis answers again, each store retries what it kept: the settlement, and the refusal's cancellation.
    await until(async () => {
      const answered = [await open.reserve([req("b", 10, 0)], NOW), await closed.reserve([req("b", 10, 0)], NOW)];
      return answered.every((d) => !("unavailable" in d)) && open.unsettled + closed.unsettled === 0;
    }, "retrying after the pause");
    await open.settle([charge("b", 0.25, 0.125)], NOW);
    // The retried settlement counted once; the cancelled refusal released nothing it did not hold.
    await until(async () => (await open.list("", NOW))[0]?.spent === 0.375, "every settlement applied", 3_000);
    expect(await open.list("", NOW)).toEqual([{ key: "b", windowMs: DAY, sliding: false, spent: 0.375, reserved: 0.5, windowStart: Date.UTC(2030, 0, 1), resetsAt: Date.UTC(2030, 0, 2) }]);
  });
});
