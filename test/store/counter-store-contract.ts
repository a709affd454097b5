import { afterEach, beforeEach, expect, test } from "bun:test";
import type { CounterStore } from "../../src/store/counters.ts";

/**
 * The `CounterStore` contract, run by `counters.test.ts` against every engine: the same calls must
 * get the same answers from the in-process store and from Redis. `open` gives a fresh, empty store.
 */
export function counterStoreContract(open: () => Promise<CounterStore>): void {
  const at = (ms: number) => 1_000_000 + ms; // window 1000 of a 1000 ms interval starts here
  const req = (key: string, limit: number, sliding = false, cost = 1) => ({ key, windowMs: 1000, limit, cost, sliding });
  let store: CounterStore;
  beforeEach(async () => {
    store = await open();
  });
  afterEach(() => store.close());

  test("fixed windows are clock-aligned: full until floor(now / interval) changes", async () => {
    await store.take([req("k", 2)], at(900));
    expect(await store.take([req("k", 2)], at(999))).toEqual({ allowed: true, windows: [{ allowed: true, count: 2, remaining: 0, resetMs: 1 }] });
    expect(await store.take([req("k", 2)], at(999))).toEqual({ allowed: false, windows: [{ allowed: false, count: 2, remaining: 0, resetMs: 1 }] });
    expect((await store.take([req("k", 2)], at(1000))).allowed).toBe(true);
  });

  test("sliding: previous window × remaining fraction + current window", async () => {
    for (let i = 0; i < 10; i++) await store.take([req("s", 10, true)], at(500));
    // Full; the current window alone is over the room, so only the next window (at 10% of it) frees one.
    expect((await store.take([req("s", 10, true)], at(500))).windows[0]).toMatchObject({ allowed: false, count: 10, resetMs: 600 });
    // Halfway into the next window, the previous 10 weigh 5.
    expect((await store.take([req("s", 10, true)], at(1500))).windows[0]).toEqual({ allowed: true, count: 6, remaining: 4, resetMs: 500 });
    for (let i = 0; i < 4; i++) await store.take([req("s", 10, true)], at(1500));
    // 10 × 0.5 + 5 = 10: one more fits when 10 × (1 − f) + 5 ≤ 9, at f = 0.6, i.e. in 100 ms.
    expect((await store.take([req("s", 10, true)], at(1500))).windows[0]).toEqual({ allowed: false, count: 10, remaining: 0, resetMs: 100 });
    const later = await store.take([req("s", 10, true)], at(1600));
    expect(later.allowed).toBe(true);
    expect(later.windows[0].count).toBeCloseTo(10);
    // Two windows on, nothing of the first is left.
    expect((await store.take([req("s", 10, true)], at(3000))).windows[0].count).toBe(1);
  });

  test("a batch is charged everywhere or nowhere", async () => {
    expect((await store.take([req("a", 5), req("b", 1)], at(0))).allowed).toBe(true);
    const refused = await store.take([req("a", 5), req("b", 1)], at(0));
    expect(refused).toEqual({
      allowed: false,
      windows: [
        { allowed: true, count: 1, remaining: 4, resetMs: 1000 },
        { allowed: false, count: 1, remaining: 0, resetMs: 1000 },
      ],
    });
    expect((await store.take([req("a", 5)], at(0))).windows[0].count).toBe(2);
  });

  test("an allowed batch reports each counter with its charge included", async () => {
    const first = await store.take([req("x", 3, false, 2), req("y", 10, true, 1)], at(250));
    expect(first).toEqual({
      allowed: true,
      windows: [
        { allowed: true, count: 2, remaining: 1, resetMs: 750 },
        { allowed: true, count: 1, remaining: 9, resetMs: 750 },
      ],
    });
    // A cost of 2 no longer fits in the 1 left.
    expect((await store.take([req("x", 3, false, 2)], at(250))).windows[0]).toEqual({ allowed: false, count: 2, remaining: 1, resetMs: 750 });
  });

  test("cost 0 only checks; add settles, refunds never go below 0, and the previous window can be refunded", async () => {
    expect((await store.take([req("t", 10, false, 0)], at(0))).windows[0]).toMatchObject({ allowed: true, count: 0 });
    await store.add("t", 1000, 12, at(10));
    expect((await store.take([req("t", 10, false, 0)], at(20))).windows[0]).toMatchObject({ allowed: false, count: 12, remaining: 0 });
    await store.add("t", 1000, -20, at(30));
    expect((await store.take([req("t", 10, false, 0)], at(40))).windows[0].count).toBe(0);
    await store.take([req("p", 10, true)], at(900));
    await store.take([req("p", 10, true)], at(1000)); // rolls: previous 1, current 1
    await store.add("p", 1000, -1, at(900));
    expect((await store.take([req("p", 10, true, 0)], at(1000))).windows[0].count).toBe(1);
  });

  test("a refund of a counter never charged creates nothing", async () => {
    await store.add("never", 1000, -5, at(0));
    await store.add("never", 1000, 3, at(0));
    expect((await store.take([req("never", 10, false, 0)], at(0))).windows[0].count).toBe(3);
  });

  test("keys are separate counters", async () => {
    await store.take([req("one", 1)], at(0));
    expect((await store.take([req("two", 1)], at(0))).allowed).toBe(true);
    expect((await store.take([req("one", 1)], at(0))).allowed).toBe(false);
  });

  test("an empty batch is allowed", async () => {
    expect(await store.take([], at(0))).toEqual({ allowed: true, windows: [] });
  });
}
