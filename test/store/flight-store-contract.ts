import { afterEach, beforeEach, expect, test } from "bun:test";
import type { CacheEntry } from "../../src/store/cache.ts";
import type { FlightStore, ReadEntry } from "../../src/store/flights.ts";

/**
 * The `FlightStore` contract, run by `flights.test.ts` against every engine, within one process: the
 * same calls must get the same answers from the in-process store and from Redis. `open` gives a
 * fresh store (disposed after each test when it says how); `read` is the shared cache a remote
 * follower would read (never needed here).
 */
export function flightStoreContract(open: () => Promise<FlightStore & Partial<AsyncDisposable>>): void {
  const read: ReadEntry = async () => null;
  let flights: FlightStore & Partial<AsyncDisposable>;
  beforeEach(async () => {
    flights = await open();
  });
  afterEach(() => flights[Symbol.asyncDispose]?.());

  test("the first miss leads; identical misses meanwhile follow and get the stored entry; the next miss leads again", async () => {
    const leader = await flights.join("k", read);
    const follower = await flights.join("k", read);
    const waiting = await flights.follow("k", read);
    if (!leader.leader || follower.leader || !waiting) throw new Error("expected one leader and two followers");
    leader.land(entryOf("answer"));
    expect(await Promise.all([follower.landed, waiting.landed])).toEqual([entryOf("answer"), entryOf("answer")]);
    // Over once the landing is recorded (a shared store records it off the leader's path): then the next miss leads.
    const deadline = Date.now() + 5_000;
    while ((await flights.follow("k", read)) !== null && Date.now() < deadline) await Bun.sleep(5);
    expect(await flights.follow("k", read)).toBeNull();
    expect((await flights.join("k", read)).leader).toBe(true);
  });

  test("a flight that stored nothing lands null: its followers go upstream themselves", async () => {
    const leader = await flights.join("k", read);
    const follower = await flights.join("k", read);
    if (!leader.leader || follower.leader) throw new Error("expected a leader and a follower");
    leader.land(null);
    leader.land(entryOf("too late")); // only the first landing counts
    expect(await follower.landed).toBeNull();
  });

  test("follow finds nothing when no flight is in the air, and never leads", async () => {
    expect(await flights.follow("k", read)).toBeNull();
    expect(await flights.follow("k", read)).toBeNull();
    expect((await flights.join("k", read)).leader).toBe(true);
  });

  test("different keys are different flights", async () => {
    const [a, b] = [await flights.join("a", read), await flights.join("b", read)];
    expect([a.leader, b.leader]).toEqual([true, true]);
  });
}

/** A cache entry whose body says `text`. */
export function entryOf(text: string): CacheEntry {
  return { status: 200, headers: [["content-type", "application/json"]], body: new TextEncoder().encode(text), step: 0, createdAt: 1, expiresAt: Date.UTC(2100, 0, 1) };
}
