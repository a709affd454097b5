import { describe, expect, test } from "bun:test";
import { MemoryBreakerStore } from "../../src/store/memory/breakers.ts";
import { RedisBreakerStore } from "../../src/store/redis/breakers.ts";
import { RedisUnavailable } from "../../src/store/redis/connection.ts";
import { breakerStoreContract } from "./breaker-store-contract.ts";
import { connect, engine, namespace, TIMEOUT_MS, until } from "./redis-stores-fixture.ts";

describe("MemoryBreakerStore", () => {
  breakerStoreContract(async () => new MemoryBreakerStore());
});

describe.skipIf(!engine)("RedisBreakerStore", () => {
  breakerStoreContract(async () => {
    const connection = await connect();
    const store = new RedisBreakerStore(connection, { namespace: namespace() });
    return Object.assign(store, { close: async () => connection.close() });
  });
});

const T = Date.UTC(2030, 0, 1, 12);
const settings = { failures: 2, windowMs: 60_000, cooldownMs: 30_000 };
const target = { gatewayId: "gw", provider: "openai", baseUrl: "https://api.openai.com/v1", model: "gpt-4o" };

describe.skipIf(!engine)("RedisBreakerStore across replicas", () => {
  test("what one replica learns the other obeys, and a half-open breaker hands exactly one probe to 20 concurrent calls on both", async () => {
    await using a = await connect();
    await using b = await connect();
    const ns = namespace();
    const stores = [new RedisBreakerStore(a, { namespace: ns }), new RedisBreakerStore(b, { namespace: ns })];
    await stores[0].failure(target, settings, T);
    await stores[1].failure(target, settings, T + 1);
    expect(await stores[0].allow(target, settings, T + 2)).toEqual({ allowed: false, retryAt: T + 30_001 });
    const permits = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % 2].allow(target, settings, T + 30_001)));
    expect(permits.filter((p) => p.allowed && p.probe)).toHaveLength(1);
    expect(permits.filter((p) => !p.allowed)).toHaveLength(19);
    // The probe's success, reported by whichever replica made the call, closes it for both.
    const prober = permits.findIndex((p) => p.allowed) % 2;
    await stores[prober].success(target, T + 31_000);
    expect(await stores[1 - prober].allow(target, settings, T + 31_000)).toEqual({ allowed: true, probe: false });
    expect(await stores[0].list("gw", T + 31_000)).toEqual([]);
  });
});

describe.skipIf(!engine)("RedisBreakerStore remembers a clean 'closed' for closedForMs", () => {
  test("a breaker another replica opens is obeyed once the remembered answer is older than closedForMs; a local failure forgets it at once", async () => {
    await using a = await connect();
    await using b = await connect();
    const ns = namespace();
    const opener = new RedisBreakerStore(a, { namespace: ns });
    const remembering = new RedisBreakerStore(b, { namespace: ns, closedForMs: 100 });
    const asking = new RedisBreakerStore(b, { namespace: ns, closedForMs: 0 });
    expect(await remembering.allow(target, settings, T)).toEqual({ allowed: true, probe: false });
    expect(await asking.allow(target, settings, T)).toEqual({ allowed: true, probe: false });

    await opener.failure(target, settings, T + 1);
    await opener.failure(target, settings, T + 2);

    // Within 100 ms of its clean answer the remembering store does not ask; the other one does.
    expect(await remembering.allow(target, settings, T + 50)).toEqual({ allowed: true, probe: false });
    expect(await asking.allow(target, settings, T + 50)).toEqual({ allowed: false, retryAt: T + 30_002 });
    expect(await remembering.allow(target, settings, T + 100)).toEqual({ allowed: false, retryAt: T + 30_002 });

    // A failure seen by this replica itself is never hidden behind a remembered answer.
    const other = { ...target, model: "gpt-4o-mini" };
    expect(await remembering.allow(other, settings, T)).toEqual({ allowed: true, probe: false });
    await remembering.failure(other, settings, T + 1);
    await opener.failure(other, settings, T + 2);
    expect(await remembering.allow(other, settings, T + 3)).toEqual({ allowed: false, retryAt: T + 30_002 });
  });
});

describe.skipIf(!engine)("RedisBreakerStore when Redis is away", () => {
  test("every call is allowed and no outcome recorded, within the timeout; list fails rather than claim all closed; the same store works after start", async () => {
    await using connection = await connect();
    const store = new RedisBreakerStore(connection, { namespace: namespace() });
    await store.failure(target, settings, T);
    await store.failure(target, settings, T);
    expect((await store.allow(target, settings, T)).allowed).toBe(false);
    await engine!.stop();
    const started = performance.now();
    try {
      expect(await store.allow(target, settings, T)).toEqual({ allowed: true, probe: false });
      await store.failure(target, settings, T);
      await store.success(target, T);
      await store.release(target, T);
      expect(await store.list("gw", T).catch((error) => error)).toBeInstanceOf(RedisUnavailable);
      // Five calls, none waiting on the dead server past the timeout (a script may send twice: EVALSHA, then EVAL after NOSCRIPT).
      expect(performance.now() - started).toBeLessThan(5 * 2 * TIMEOUT_MS);
    } finally {
      await engine!.start();
    }
    await until(async () => {
      await store.failure(target, settings, T);
      return (await store.list("gw", T)).length === 1;
    }, "recording again after Redis came back");
    await store.failure(target, settings, T);
    expect(await store.allow(target, settings, T)).toEqual({ allowed: false, retryAt: T + 30_000 });
  });
});
