import { afterEach, beforeEach, expect, test } from "bun:test";
import type { SpendRequest, SpendStore } from "../../src/store/spend.ts";

/**
 * The `SpendStore` contract, run by `spend.test.ts` against every engine: the same calls must get the
 * same answers from the in-process store and from Redis. Amounts are binary fractions (0.25, 0.5), so
 * the answers are exact in both. `open` gives a fresh, empty store.
 */
export function spendStoreContract(open: () => Promise<SpendStore>): void {
  const START = 1_000_000; // window 1000 of a 1000 ms interval starts here
  const at = (ms: number) => START + ms;
  const req = (key: string, limit: number, reserve: number, sliding = false): SpendRequest => ({ key, windowMs: 1000, limit, sliding, reserve });
  const charge = (key: string, reserved: number, cost: number) => ({ key, windowMs: 1000, reserved, cost });
  let store: SpendStore;
  beforeEach(async () => {
    store = await open();
  });
  afterEach(() => store.close());

  test("admits while settled + reserved is below the limit, holding each admission's estimate", async () => {
    const seen = [];
    for (let i = 0; i < 5; i++) seen.push(await store.reserve([req("b", 1, 0.25)], at(100)));
    expect(seen.map((d) => [d.allowed, d.windows[0].reserved])).toEqual([
      [true, 0],
      [true, 0.25],
      [true, 0.5],
      [true, 0.75],
      [false, 1],
    ]);
    expect(seen[4].windows[0]).toEqual({ allowed: false, spent: 0, reserved: 1, windowStart: START, resetMs: 900 });
  });

  test("settle releases the reservation and charges the real cost to the window; the next window starts empty", async () => {
    expect((await store.reserve([req("b", 1, 0.5)], at(0))).allowed).toBe(true);
    await store.settle([charge("b", 0.5, 0.75)], at(10));
    expect((await store.reserve([req("b", 1, 0.5)], at(20))).windows[0]).toEqual({ allowed: true, spent: 0.75, reserved: 0, windowStart: START, resetMs: 980 });
    await store.settle([charge("b", 0.5, 0.25)], at(30));
    expect((await store.reserve([req("b", 1, 0.5)], at(40))).windows[0]).toEqual({ allowed: false, spent: 1, reserved: 0, windowStart: START, resetMs: 960 });
    expect((await store.reserve([req("b", 1, 0.5)], at(1000))).windows[0]).toEqual({ allowed: true, spent: 0, reserved: 0, windowStart: START + 1000, resetMs: 1000 });
  });

  test("a batch holds everywhere or nowhere", async () => {
    await store.settle([charge("full", 0, 0.5)], at(0));
    const refused = await store.reserve([req("wide", 1, 0.25), req("full", 0.5, 0.25)], at(0));
    expect(refused.allowed).toBe(false);
    expect(refused.windows.map((w) => [w.allowed, w.spent, w.reserved])).toEqual([
      [true, 0, 0],
      [false, 0.5, 0],
    ]);
    expect((await store.reserve([req("wide", 1, 0.25)], at(0))).windows[0].reserved).toBe(0);
  });

  test("sliding: the previous window's settled spend weighs by the part of it still inside the interval", async () => {
    await store.reserve([req("s", 1, 0, true)], at(100));
    await store.settle([charge("s", 0, 1)], at(100));
    // The current window alone is at the limit: only once the next window starts does it fade.
    expect((await store.reserve([req("s", 1, 0, true)], at(500))).windows[0]).toEqual({ allowed: false, spent: 1, reserved: 0, windowStart: START, resetMs: 501 });
    expect((await store.reserve([req("s", 1, 0, true)], at(1500))).windows[0]).toEqual({ allowed: true, spent: 0.5, reserved: 0, windowStart: START + 1000, resetMs: 500 });
    await store.settle([charge("s", 0, 0.5)], at(1400));
    // 1 × 0.6 + 0.5 = 1.1: below 1 once 1 × (1 − f) + 0.5 < 1, past f = 0.5, i.e. in 101 ms.
    const refused = await store.reserve([req("s", 1, 0, true)], at(1400));
    expect(refused.windows[0]).toMatchObject({ allowed: false, reserved: 0, windowStart: START + 1000, resetMs: 101 });
    expect(refused.windows[0].spent).toBeCloseTo(1.1);
    expect((await store.reserve([req("s", 1, 0, true)], at(3000))).windows[0].spent).toBe(0);
  });

  test("a reservation belongs to the bucket, not the window: it is held into the next window until it settles", async () => {
    await store.reserve([req("r", 1, 0.75)], at(900));
    expect((await store.reserve([req("r", 1, 0.25)], at(1100))).windows[0]).toMatchObject({ allowed: true, spent: 0, reserved: 0.75 });
    expect((await store.reserve([req("r", 1, 0.25)], at(1100))).allowed).toBe(false);
    await store.settle([charge("r", 0.75, 0.25)], at(1200));
    expect((await store.reserve([req("r", 1, 0.25)], at(1200))).windows[0]).toMatchObject({ allowed: true, spent: 0.25, reserved: 0.25 });
  });

  test("settling a bucket that holds nothing records a cost, never a negative reservation, and a zero settles nothing", async () => {
    await store.settle([charge("new", 0.5, 0.25), charge("zero", 0, 0)], at(0));
    expect(await store.list("", at(0))).toEqual([{ key: "new", windowMs: 1000, sliding: false, spent: 0.25, reserved: 0, windowStart: START, resetsAt: START + 1000 }]);
  });

  test("list: the buckets under a prefix that spent or hold something, sorted, as of now", async () => {
    await store.reserve([req("budget:gw:0:team=b", 1, 0.25, true)], at(100));
    await store.settle([charge("budget:gw:0:team=a", 0, 0.5)], at(100));
    await store.settle([charge("budget:other:0:gateway", 0, 1)], at(100));
    await store.reserve([req("budget:gw:1:idle", 1, 0)], at(100));
    expect(await store.list("budget:gw:", at(200))).toEqual([
      { key: "budget:gw:0:team=a", windowMs: 1000, sliding: false, spent: 0.5, reserved: 0, windowStart: START, resetsAt: START + 1000 },
      { key: "budget:gw:0:team=b", windowMs: 1000, sliding: true, spent: 0, reserved: 0.25, windowStart: START, resetsAt: START + 1000 },
    ]);
    // Two windows on, only the reservation is left.
    expect(await store.list("budget:gw:", at(2500))).toEqual([
      { key: "budget:gw:0:team=b", windowMs: 1000, sliding: true, spent: 0, reserved: 0.25, windowStart: START + 2000, resetsAt: START + 3000 },
    ]);
    expect(await store.list("budget:none:", at(200))).toEqual([]);
  });

  test("an empty batch is admitted", async () => {
    expect(await store.reserve([], at(0))).toEqual({ allowed: true, windows: [] });
  });
}
