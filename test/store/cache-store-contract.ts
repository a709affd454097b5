import { expect, test } from "bun:test";
import type { CacheEntry, CacheStore } from "../../src/store/cache.ts";

/**
 * The `CacheStore` contract, run by `cache-store.test.ts` against every engine. Times are real epoch
 * ms (a networked store may hand expiry to its server); `now` is passed explicitly to move past it.
 */

/** A store under test, plus what its engine documents differently. */
export interface OpenedCacheStore extends AsyncDisposable {
  store: CacheStore;
  /** Whether `purgeExpired` counts what it removed (Redis expires entries itself and resolves 0). */
  purgeCounts: boolean;
}

/** Every byte value, twice, so an encoding that loses or rewrites bytes is caught. */
const EVERY_BYTE = Uint8Array.from({ length: 512 }, (_, i) => (i * 7 + 3) % 256);

export function entryAt(t: number, body: Uint8Array = EVERY_BYTE, lifetimeMs = 60_000): CacheEntry {
  return {
    status: 203,
    headers: [
      ["content-type", "text/event-stream; charset=utf-8"],
      ["x-request-id", "req_1"],
      ["x-trace", "a"],
      ["x-trace", "b"],
      ["x-note", "naïve ☕ \"quoted\"\nnot a header break"],
    ],
    body,
    step: 2,
    createdAt: t,
    expiresAt: t + lifetimeMs,
  };
}

export function cacheStoreContract(open: () => Promise<OpenedCacheStore>): void {
  test("get returns what put stored: status, headers in order with repeats, step, times and every body byte", async () => {
    await using opened = await open();
    const t = Date.now();
    await opened.store.put("gw:entry", entryAt(t));
    expect(await opened.store.get("gw:entry", t)).toEqual(entryAt(t));
  });

  test("a key nobody wrote is a miss", async () => {
    await using opened = await open();
    expect(await opened.store.get("gw:never", Date.now())).toBeNull();
  });

  test("an empty body and a body of text round-trip", async () => {
    await using opened = await open();
    const t = Date.now();
    const text = new TextEncoder().encode('data: {"choices":[{"delta":{"content":"hé"}}]}\n\ndata: [DONE]\n\n');
    await opened.store.put("gw:empty", entryAt(t, new Uint8Array(0)));
    await opened.store.put("gw:sse", entryAt(t, text));
    expect([await opened.store.get("gw:empty", t), await opened.store.get("gw:sse", t)]).toEqual([entryAt(t, new Uint8Array(0)), entryAt(t, text)]);
  });

  test("an entry is served until just before expiresAt and never at or after it", async () => {
    await using opened = await open();
    const t = Date.now();
    const entry = entryAt(t);
    await opened.store.put("gw:ttl", entry);
    expect(await opened.store.get("gw:ttl", entry.expiresAt - 1)).toEqual(entry);
    expect(await opened.store.get("gw:ttl", entry.expiresAt)).toBeNull();
    expect(await opened.store.get("gw:ttl", entry.expiresAt + 3_600_000)).toBeNull();
  });

  test("put replaces the whole entry of a key", async () => {
    await using opened = await open();
    const t = Date.now();
    const second: CacheEntry = { status: 200, headers: [["content-type", "application/json"]], body: new TextEncoder().encode("{}"), step: 0, createdAt: t + 5, expiresAt: t + 120_000 };
    await opened.store.put("gw:replaced", entryAt(t));
    await opened.store.put("gw:replaced", second);
    expect(await opened.store.get("gw:replaced", t + 5)).toEqual(second);
  });

  test("delete resolves true once, then false, and the entry is gone", async () => {
    await using opened = await open();
    const t = Date.now();
    await opened.store.put("gw:deleted", entryAt(t));
    expect([await opened.store.delete("gw:deleted"), await opened.store.delete("gw:deleted")]).toEqual([true, false]);
    expect(await opened.store.get("gw:deleted", t)).toBeNull();
  });

  test("purgeExpired keeps live entries and never brings an expired one back", async () => {
    await using opened = await open();
    const t = Date.now();
    const short = entryAt(t, EVERY_BYTE, 1_000);
    await opened.store.put("gw:short", short);
    await opened.store.put("gw:long", entryAt(t));
    const purged = await opened.store.purgeExpired(short.expiresAt);
    expect(purged).toBe(opened.purgeCounts ? 1 : 0);
    expect(await opened.store.get("gw:short", short.expiresAt)).toBeNull();
    expect(await opened.store.get("gw:long", short.expiresAt)).toEqual(entryAt(t));
  });

  test("keys are data: colons, spaces, braces, non-ASCII and glob characters name separate entries", async () => {
    await using opened = await open();
    const t = Date.now();
    const keys = ["gw:a b", "gw:{tag}", "gw:ü/∂", "gw:*", "gw:a", "gw:a:"];
    for (const [i, key] of keys.entries()) await opened.store.put(key, entryAt(t, new Uint8Array([i])));
    const bodies = await Promise.all(keys.map(async (key) => [...((await opened.store.get(key, t))?.body ?? [])]));
    expect(bodies).toEqual(keys.map((_, i) => [i]));
  });
}
