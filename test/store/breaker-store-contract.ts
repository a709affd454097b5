import { afterEach, beforeEach, expect, test } from "bun:test";
import type { BreakerStore, BreakerTarget } from "../../src/store/breakers.ts";

/**
 * The `BreakerStore` contract, run by `breakers.test.ts` against every engine: the same calls must get
 * the same answers from the in-process store and from Redis. `open` gives a fresh, empty store.
 */
export function breakerStoreContract(open: () => Promise<BreakerStore>): void {
  const T = Date.UTC(2030, 0, 1, 12);
  const settings = { failures: 3, windowMs: 60_000, cooldownMs: 30_000 };
  const target = (model: string | null = "gpt-4o", gatewayId = "gw"): BreakerTarget => ({ gatewayId, provider: "openai", baseUrl: "https://api.openai.com/v1", model });
  let store: BreakerStore;
  beforeEach(async () => {
    store = await open();
  });
  afterEach(() => store.close());

  test("opens after N failures within the window, then refuses until the cooldown ends", async () => {
    expect(await store.allow(target(), settings, T)).toEqual({ allowed: true, probe: false });
    await store.failure(target(), settings, T);
    await store.failure(target(), settings, T + 1000);
    expect(await store.allow(target(), settings, T + 1000)).toEqual({ allowed: true, probe: false });
    await store.failure(target(), settings, T + 2000);
    expect(await store.allow(target(), settings, T + 2000)).toEqual({ allowed: false, retryAt: T + 32_000 });
    expect(await store.allow(target(), settings, T + 31_999)).toEqual({ allowed: false, retryAt: T + 32_000 });
  });

  test("failures that left the window do not add up", async () => {
    await store.failure(target(), settings, T);
    await store.failure(target(), settings, T + 1000);
    await store.failure(target(), settings, T + 61_000);
    expect(await store.allow(target(), settings, T + 61_000)).toEqual({ allowed: true, probe: false });
    await store.failure(target(), settings, T + 62_000);
    expect((await store.allow(target(), settings, T + 62_000)).allowed).toBe(true);
    await store.failure(target(), settings, T + 63_000);
    expect((await store.allow(target(), settings, T + 63_000)).allowed).toBe(false);
  });

  test("after the cooldown exactly one probe goes through; its failure reopens, its success closes", async () => {
    for (let i = 0; i < 3; i++) await store.failure(target(), settings, T);
    expect(await store.allow(target(), settings, T + 30_000)).toEqual({ allowed: true, probe: true });
    expect(await store.allow(target(), settings, T + 30_001)).toEqual({ allowed: false, retryAt: T + 60_000 });
    await store.failure(target(), settings, T + 31_000);
    expect(await store.allow(target(), settings, T + 31_000)).toEqual({ allowed: false, retryAt: T + 61_000 });
    expect(await store.allow(target(), settings, T + 61_000)).toEqual({ allowed: true, probe: true });
    await store.success(target(), T + 62_000);
    expect(await store.allow(target(), settings, T + 62_000)).toEqual({ allowed: true, probe: false });
    expect(await store.list("gw", T + 62_000)).toEqual([]);
  });

  test("a probe released without a verdict lets the next call probe", async () => {
    for (let i = 0; i < 3; i++) await store.failure(target(), settings, T);
    expect(await store.allow(target(), settings, T + 30_000)).toEqual({ allowed: true, probe: true });
    await store.release(target(), T + 30_500);
    expect(await store.allow(target(), settings, T + 30_600)).toEqual({ allowed: true, probe: true });
  });

  test("a success while closed keeps the failures still inside the window", async () => {
    await store.failure(target(), settings, T + 10_000);
    await store.failure(target(), settings, T + 50_000);
    await store.success(target(), T + 61_000);
    await store.failure(target(), settings, T + 62_000);
    expect((await store.allow(target(), settings, T + 62_000)).allowed).toBe(false);
  });

  test("targets are apart even when their parts would join into the same text", async () => {
    const one = { ...settings, failures: 1 };
    await store.failure({ gatewayId: "a", provider: "b|c", baseUrl: "u", model: "m" }, one, T);
    expect(await store.allow({ gatewayId: "a|b", provider: "c", baseUrl: "u", model: "m" }, one, T)).toEqual({ allowed: true, probe: false });
    expect(await store.allow({ gatewayId: "a", provider: "b|c", baseUrl: "u", model: "m" }, one, T)).toEqual({ allowed: false, retryAt: T + 30_000 });
    expect(await store.allow({ gatewayId: "a", provider: "b|c", baseUrl: "u", model: null }, one, T)).toEqual({ allowed: true, probe: false });
  });

  test("list: a gateway's breakers that are open, half-open, or closed with failures in the window", async () => {
    await store.failure(target("counting"), settings, T);
    for (let i = 0; i < 3; i++) await store.failure(target("opened"), settings, T);
    for (let i = 0; i < 3; i++) await store.failure(target("cooled"), settings, T - 40_000);
    for (let i = 0; i < 3; i++) await store.failure(target("probing"), settings, T - 40_000);
    await store.allow(target("probing"), settings, T);
    await store.failure(target("elsewhere", "other"), settings, T);
    await store.failure(target("aged"), settings, T - 61_000);
    await store.failure(target(null, "g*"), settings, T);
    const listed = await store.list("gw", T + 1000);
    expect(listed.sort((a, b) => String(a.target.model).localeCompare(String(b.target.model)))).toEqual([
      { target: target("cooled"), state: "half-open", failures: 3, openedAt: T - 40_000, retryAt: T - 10_000 },
      { target: target("counting"), state: "closed", failures: 1, openedAt: null, retryAt: null },
      { target: target("opened"), state: "open", failures: 3, openedAt: T, retryAt: T + 30_000 },
      { target: target("probing"), state: "half-open", failures: 3, openedAt: T - 40_000, retryAt: T + 30_000 },
    ]);
    // Gateway ids are data, not patterns.
    expect(await store.list("g*", T)).toEqual([{ target: target(null, "g*"), state: "closed", failures: 1, openedAt: null, retryAt: null }]);
    expect(await store.list("nobody", T)).toEqual([]);
  });
}
