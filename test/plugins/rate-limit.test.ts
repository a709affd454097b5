import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { rateLimit } from "../../plugins/rate-limit/index.ts";
import { definePlugin, ErrorCode, type GatewayConfig } from "../../src/sdk.ts";
import { MemoryCounterStore } from "../../src/store/memory/counters.ts";
import { startTestGateway, type TestGateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

const HOUR = 3600;
/** 12:10:00 UTC: ten minutes into a clock-aligned hour, so hourly windows end in 3000 s. */
const START = Date.UTC(2030, 0, 1, 12, 10);
let clock = START;

/** Stands in for the auth plugin: the token id comes from a test header. */
const fakeAuth = definePlugin({
  name: "fake-auth",
  handle(ctx, next) {
    ctx.tokenId = ctx.headers.get("x-test-token");
    return next();
  },
});
/** A cache answering `x-hit: early|late` requests, placed before and after rate-limit. */
const fakeCache = (name: string, when: string) =>
  definePlugin({
    name,
    handle(ctx, next) {
      if (ctx.headers.get("x-hit") !== when) return next();
      ctx.cacheStatus = "HIT";
      return Response.json({ cached: true });
    },
  });

const gateways: Record<string, GatewayConfig> = {
  fixed: { rateLimit: { limit: 3, interval: HOUR } },
  sliding: { rateLimit: { limit: 4, interval: 60, technique: "sliding" } },
  user: { rateLimit: { limit: 2, interval: HOUR, key: "header:x-user" } },
  meta: { rateLimit: { limit: 2, interval: HOUR, key: "metadata:user" } },
  ip: { rateLimit: { limit: 2, interval: HOUR, key: "ip" } },
  token: { rateLimit: { limit: 1, interval: HOUR, key: "token" } },
  tokens: { rateLimit: { limit: 15, interval: HOUR, unit: "tokens" } },
  both: { rateLimit: [{ limit: 2, interval: HOUR, key: "header:x-user" }, { limit: 3, interval: HOUR }] },
  cache: { rateLimit: { limit: 1, interval: HOUR } },
  crowd: { rateLimit: { limit: 50, interval: HOUR } },
};

let upstream: MockUpstream;
let gw: TestGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gw = await startTestGateway({
    upstream: upstream.url,
    config: {
      gateways,
      plugins: [fakeAuth, "metadata", fakeCache("early-cache", "early"), rateLimit({ now: () => clock }), fakeCache("late-cache", "late"), "logging"],
    },
  });
});
afterAll(async () => {
  await gw.stop();
  await upstream.stop();
});
beforeEach(() => {
  upstream.reset();
  clock = START;
});

/** One chat completion ("hi": the mock reports 4 tokens in, 5 out). */
function chat(gateway: string, headers: Record<string, string> = {}) {
  return fetch(`${gw.base(gateway)}/openai/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test", ...headers },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  });
}

/** Sends one request after the other (arrival order matters within a bucket) and lists the statuses. */
async function statuses(...calls: (() => Promise<Response>)[]): Promise<number[]> {
  const out: number[] = [];
  for (const call of calls) out.push((await call()).status);
  return out;
}
const times = (n: number, call: () => Promise<Response>) => Array.from({ length: n }, () => call);

function limitHeaders(res: Response) {
  const pick = ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after"];
  return Object.fromEntries(pick.filter((h) => res.headers.has(h)).map((h) => [h, res.headers.get(h)]));
}

describe("fixed window", () => {
  test("answers 429/2003 with Retry-After and RateLimit-* once the window is full, without calling upstream", async () => {
    const allowed = [await chat("fixed"), await chat("fixed"), await chat("fixed")];
    expect(allowed.map(limitHeaders)).toEqual(
      [2, 1, 0].map((left) => ({ "ratelimit-limit": "3", "ratelimit-remaining": String(left), "ratelimit-reset": "3000" })),
    );
    expect(allowed.map((r) => r.status)).toEqual([200, 200, 200]);

    const refused = await chat("fixed");
    expect(refused.status).toBe(429);
    expect(limitHeaders(refused)).toEqual({ "ratelimit-limit": "3", "ratelimit-remaining": "0", "ratelimit-reset": "3000", "retry-after": "3000" });
    expect(await refused.json()).toMatchObject({
      success: false,
      internalCode: ErrorCode.RateLimited,
      error: [{ code: ErrorCode.RateLimited, message: "Rate limited: rateLimit rule 1 allows 3 requests per 3600s (fixed window) for the whole gateway; retry in 3000s" }],
    });
    expect(upstream.requests).toHaveLength(3);
  });

  test("opens again when the clock-aligned window turns", async () => {
    clock = START + 3000_000 - 1; // 12:59:59.999, still the 12:00 window (full from the test above)
    const last = await chat("fixed");
    expect([last.status, last.headers.get("retry-after")]).toEqual([429, "1"]);
    clock = START + 3000_000; // 13:00:00
    expect(await statuses(() => chat("fixed"))).toEqual([200]);
  });
});

test("sliding window weighs the previous window by the part still inside the interval", async () => {
  expect(await statuses(...times(4, () => chat("sliding")))).toEqual([200, 200, 200, 200]);
  clock += 60_000 + 30_000; // halfway through the next minute: 4 × 0.5 = 2 still count
  expect(await statuses(...times(3, () => chat("sliding")))).toEqual([200, 200, 429]);
  clock += 15_000; // 4 × 0.25 + 2 = 3
  expect(await statuses(...times(2, () => chat("sliding")))).toEqual([200, 429]);
});

describe("keys", () => {
  test("header:<name> gives each value its own budget; requests without the header share one", async () => {
    const ada = { "x-user": "ada" };
    expect(await statuses(() => chat("user", ada), () => chat("user", ada))).toEqual([200, 200]);
    expect(await statuses(() => chat("user", ada), () => chat("user", { "x-user": "bob" }))).toEqual([429, 200]);
    expect(await statuses(() => chat("user"), () => chat("user"))).toEqual([200, 200]);
    expect(await statuses(() => chat("user"))).toEqual([429]);
  });

  test("metadata:<key> gives each value its own budget; requests without it share the (none) bucket", async () => {
    const as = (user: string) => ({ "cf-aig-metadata": JSON.stringify({ user }) });
    expect(await statuses(() => chat("meta", as("ada")), () => chat("meta", as("ada")))).toEqual([200, 200]);
    expect(await statuses(() => chat("meta", as("ada")), () => chat("meta", as("bob")))).toEqual([429, 200]);
    const other = { "cf-aig-metadata": '{"team":"ml"}' };
    expect(await statuses(() => chat("meta"), () => chat("meta", other))).toEqual([200, 200]);
    expect(await statuses(() => chat("meta"))).toEqual([429]);
  });

  test("ip: every request from 127.0.0.1 shares one budget, whatever else it carries", async () => {
    expect(await statuses(() => chat("ip", { "x-user": "a" }), () => chat("ip", { "x-user": "b" }))).toEqual([200, 200]);
    expect(await statuses(() => chat("ip", { "x-user": "c" }), () => chat("ip", { "x-test-token": "t1" }))).toEqual([429, 429]);
  });

  test("token: each gateway token has its own budget; without one the client address is the key", async () => {
    const t1 = { "x-test-token": "tok_1" };
    expect(await statuses(() => chat("token", t1), () => chat("token", t1))).toEqual([200, 429]);
    expect(await statuses(() => chat("token", { "x-test-token": "tok_2" }))).toEqual([200]);
    expect(await statuses(() => chat("token"), () => chat("token"))).toEqual([200, 429]);
  });
});

test("unit tokens: counts the tokens the provider reported once the answer completes", async () => {
  const first = await chat("tokens");
  expect([first.status, first.headers.get("ratelimit-remaining")]).toEqual([200, "15"]);
  await gw.settle(); // 9 tokens settled
  const second = await chat("tokens");
  expect([second.status, second.headers.get("ratelimit-remaining")]).toEqual([200, "6"]);
  await gw.settle(); // 18 ≥ 15
  const third = await chat("tokens");
  expect(third.status).toBe(429);
  expect(((await third.json()) as { message: string }).message).toContain("allows 15 tokens per 3600s");
  expect(upstream.requests).toHaveLength(2);
});

test("several rules: all must pass, and a refused request is charged to none of them", async () => {
  const as = (user: string) => ({ "x-user": user });
  expect(await statuses(() => chat("both", as("u1")), () => chat("both", as("u1")))).toEqual([200, 200]);
  const byRule1 = await chat("both", as("u1"));
  expect(((await byRule1.json()) as { message: string }).message).toContain("rule 1 allows 2 requests");
  // The gateway-wide rule was not charged for that refusal: one request is left.
  const last = await chat("both", as("u2"));
  expect(last.status).toBe(200);
  expect(limitHeaders(last)).toEqual({ "ratelimit-limit": "3", "ratelimit-remaining": "0", "ratelimit-reset": "3000" });
  const byRule2 = await chat("both", as("u3"));
  expect(((await byRule2.json()) as { message: string }).message).toContain("rule 2 allows 3 requests per 3600s (fixed window) for the whole gateway");
  expect(upstream.requests).toHaveLength(3);
});

test("cache hits do not count, whether answered before or after the rate-limit plugin", async () => {
  const early = await chat("cache", { "x-hit": "early" });
  const late = await chat("cache", { "x-hit": "late" });
  expect([early.headers.get("cf-aig-cache-status"), late.headers.get("cf-aig-cache-status")]).toEqual(["HIT", "HIT"]);
  expect(late.headers.get("ratelimit-remaining")).toBe("1");
  await gw.settle();
  expect(await statuses(() => chat("cache"))).toEqual([200]);
  expect(await statuses(() => chat("cache"))).toEqual([429]);
  expect(upstream.requests).toHaveLength(1);
});

test("is atomic: 200 concurrent requests against a limit of 50 let exactly 50 through", async () => {
  const results = (await Promise.all(Array.from({ length: 200 }, () => chat("crowd")))).map((r) => r.status);
  expect({ ok: results.filter((s) => s === 200).length, limited: results.filter((s) => s === 429).length }).toEqual({ ok: 50, limited: 150 });
  expect(upstream.requests).toHaveLength(50);
});

describe("memory counter store", () => {
  const at = (ms: number) => 1_000_000 + ms; // window 1000 of a 1000 ms interval starts here
  const req = (key: string, limit: number, sliding = false, cost = 1) => ({ key, windowMs: 1000, limit, cost, sliding });

  test("fixed windows are clock-aligned: full until floor(now / interval) changes", async () => {
    await using store = disposable(new MemoryCounterStore());
    await store.take([req("k", 2)], at(900));
    expect(await store.take([req("k", 2)], at(999))).toEqual({ allowed: true, windows: [{ allowed: true, count: 2, remaining: 0, resetMs: 1 }] });
    expect(await store.take([req("k", 2)], at(999))).toEqual({ allowed: false, windows: [{ allowed: false, count: 2, remaining: 0, resetMs: 1 }] });
    expect((await store.take([req("k", 2)], at(1000))).allowed).toBe(true);
  });

  test("sliding: previous window × remaining fraction + current window", async () => {
    await using store = disposable(new MemoryCounterStore());
    for (let i = 0; i < 10; i++) await store.take([req("s", 10, true)], at(500));
    // Full; the current window alone is over the room, so only the next window (at 10% of it) frees one.
    expect((await store.take([req("s", 10, true)], at(500))).windows[0]).toMatchObject({ allowed: false, count: 10, resetMs: 600 });
    // Halfway into the next window, the previous 10 weigh 5.
    const half = await store.take([req("s", 10, true)], at(1500));
    expect(half.windows[0]).toMatchObject({ allowed: true, count: 6, remaining: 4, resetMs: 500 });
    for (let i = 0; i < 4; i++) await store.take([req("s", 10, true)], at(1500));
    // 10 × 0.5 + 5 = 10: one more fits when 10 × (1 − f) + 5 ≤ 9, at f = 0.6, i.e. in 100 ms.
    expect((await store.take([req("s", 10, true)], at(1500))).windows[0]).toMatchObject({ allowed: false, count: 10, resetMs: 100 });
    const later = await store.take([req("s", 10, true)], at(1600));
    expect(later.allowed).toBe(true);
    expect(later.windows[0].count).toBeCloseTo(10);
    // Two windows on, nothing of the first is left.
    expect((await store.take([req("s", 10, true)], at(3000))).windows[0].count).toBe(1);
  });

  test("a batch is charged everywhere or nowhere", async () => {
    await using store = disposable(new MemoryCounterStore());
    expect((await store.take([req("a", 5), req("b", 1)], at(0))).allowed).toBe(true);
    const refused = await store.take([req("a", 5), req("b", 1)], at(0));
    expect(refused.windows.map((w) => [w.allowed, w.count])).toEqual([[true, 1], [false, 1]]);
    expect((await store.take([req("a", 5)], at(0))).windows[0].count).toBe(2);
  });

  test("cost 0 only checks; add settles, refunds never go below 0, and the previous window can be refunded", async () => {
    await using store = disposable(new MemoryCounterStore());
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

  test("sweep drops counters whose windows no longer count", async () => {
    await using store = disposable(new MemoryCounterStore());
    await store.take([req("old", 5)], at(0));
    await store.take([req("new", 5)], at(1500));
    store.sweep(at(2100));
    expect(store.size).toBe(1);
    store.sweep(at(3000));
    expect(store.size).toBe(0);
  });
});

function disposable(store: MemoryCounterStore) {
  return Object.assign(store, { [Symbol.asyncDispose]: () => store.close() });
}
