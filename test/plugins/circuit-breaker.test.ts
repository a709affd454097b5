import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { fallback } from "../../plugins/fallback/index.ts";
import { sleep as realSleep } from "../../plugins/fallback/backoff.ts";
import { ErrorCode, type Config } from "../../src/sdk.ts";
import type { BreakerStore } from "../../src/store/breakers.ts";
import { MemoryBreakerStore } from "../../src/store/memory/breakers.ts";
import { envelopeOf, fallbackHarness, messages, START, statuses } from "../support/fallback-harness.ts";
import { startTestGateway, type TestGateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.stop());
beforeEach(() => upstream.reset());

describe("circuit breaker", () => {
  const fragile = { breaker: { failures: 2, window: 60, cooldown: 30 } };

  test("opens after N failures; the open target is skipped for the next step, or 503/2115 with Retry-After when nothing is left", async () => {
    const h = fallbackHarness(upstream, fragile);
    for (let i = 0; i < 2; i++) expect((await h.run([h.step("gpt-4o-mini", { "x-mock-status": "500" })])).response.status).toBe(500);
    expect(upstream.requests).toHaveLength(2);

    const alone = await h.run([h.step("gpt-4o-mini")]);
    expect(alone.response.status).toBe(503);
    expect(alone.response.headers.get("retry-after")).toBe("30");
    expect(envelopeOf(alone.text)).toEqual(
      expect.objectContaining({ internalCode: ErrorCode.CircuitOpen, message: "No step could be tried: the circuit breaker is open for openai (gpt-4o-mini); retry in 30 s" }),
    );
    expect(alone.record.attempts).toEqual([{ step: 0, provider: "openai", status: null, durationMs: 0, ttfbMs: null, error: "skipped: circuit open" }]);
    expect(upstream.requests).toHaveLength(2);

    const other = await h.run([h.step("gpt-4o-mini"), h.step("gpt-4o")]);
    expect(other.response.status).toBe(200);
    expect(other.response.headers.get("cf-aig-step")).toBe("1");
    expect(statuses(other.record.attempts)).toEqual(["skipped: circuit open", 200]);

    h.clock.now += 12_500;
    expect((await h.run([h.step("gpt-4o-mini")])).response.headers.get("retry-after")).toBe("18");
  });

  test("failures outside the window do not add up", async () => {
    const h = fallbackHarness(upstream, fragile);
    await h.run([h.step("gpt-4o-mini", { "x-mock-status": "500" })]);
    h.clock.now += 60_001;
    await h.run([h.step("gpt-4o-mini", { "x-mock-status": "500" })]);
    expect((await h.run([h.step("gpt-4o-mini")])).response.status).toBe(200);
  });

  test("the breaker opening during a step's retries ends that step", async () => {
    const h = fallbackHarness(upstream, fragile);
    const { response, record } = await h.run([h.step("gpt-4o-mini", { "x-mock-status": "503" }, { "cf-aig-max-attempts": "5" }), h.anthropicStep()]);
    expect(response.status).toBe(200);
    expect(statuses(record.attempts)).toEqual([503, 503, 200]);
  });

  test("after the cooldown one probe goes through: its failure reopens for another cooldown, its success closes", async () => {
    const h = fallbackHarness(upstream, fragile);
    for (let i = 0; i < 2; i++) await h.run([h.step("gpt-4o-mini", { "x-mock-status": "500" })]);
    h.clock.now += 30_000;
    expect(await h.store.list("test", h.clock.now)).toEqual([
      { target: { gatewayId: "test", provider: "openai", baseUrl: `${upstream.url}/v1`, model: "gpt-4o-mini" }, state: "half-open", failures: 2, openedAt: START, retryAt: START + 30_000 },
    ]);

    const failedProbe = await h.run([h.step("gpt-4o-mini", { "x-mock-status": "500" })]);
    expect(failedProbe.response.status).toBe(500);
    const reopened = await h.run([h.step("gpt-4o-mini")]);
    expect(reopened.response.status).toBe(503);
    expect(reopened.response.headers.get("retry-after")).toBe("30");
    expect(upstream.requests).toHaveLength(3);

    h.clock.now += 30_000;
    expect((await h.run([h.step("gpt-4o-mini")])).response.status).toBe(200);
    expect(await h.store.list("test", h.clock.now)).toEqual([]);
    // Closed with its counts reset: one new failure does not open it.
    await h.run([h.step("gpt-4o-mini", { "x-mock-status": "500" })]);
    expect((await h.run([h.step("gpt-4o-mini")])).response.status).toBe(200);
  });

  test("while the probe is in flight, other requests still skip the target", async () => {
    const h = fallbackHarness(upstream, fragile);
    for (let i = 0; i < 2; i++) await h.run([h.step("gpt-4o-mini", { "x-mock-status": "500" })]);
    h.clock.now += 30_000;
    upstream.reset();
    const probe = h.start([h.step("gpt-4o-mini", { "x-mock-delay": "200" })]);
    await upstream.waitForRequests(1);
    const meanwhile = await h.run([h.step("gpt-4o-mini")]);
    expect(meanwhile.response.status).toBe(503);
    expect(envelopeOf(meanwhile.text).internalCode).toBe(ErrorCode.CircuitOpen);
    const probed = await probe.response;
    expect(probed.status).toBe(200);
    await probed.text();
    expect((await h.run([h.step("gpt-4o-mini")])).response.status).toBe(200);
    expect(upstream.requests).toHaveLength(2);
  });

  test("a probe that ends without a verdict (the client left) lets the next request probe", async () => {
    const h = fallbackHarness(upstream, fragile);
    for (let i = 0; i < 2; i++) await h.run([h.step("gpt-4o-mini", { "x-mock-status": "500" })]);
    h.clock.now += 30_000;
    upstream.reset();
    const probe = h.start([h.step("gpt-4o-mini", { "x-mock-delay": "2000" })]);
    await upstream.waitForRequests(1);
    probe.ctx.abort("client");
    const gone = await probe.response;
    expect(gone.status).toBe(499);
    await gone.text();
    expect((await h.run([h.step("gpt-4o-mini")])).response.status).toBe(200);
  });

  test("a stream that breaks after the first byte counts as a failure of the serving target", async () => {
    const h = fallbackHarness(upstream, { breaker: { failures: 1, cooldown: 30 } });
    const broken = await h.run([h.step("gpt-4o-mini", { "x-mock-break-after": "2" }, undefined, { stream: true })]);
    expect(broken.response.status).toBe(200);
    expect(broken.record.error?.code).toBe(ErrorCode.StreamBroken);
    const next = await h.run([h.step("gpt-4o-mini", {}, undefined, { stream: true })]);
    expect(next.response.status).toBe(503);
    expect(envelopeOf(next.text).internalCode).toBe(ErrorCode.CircuitOpen);
  });

  test("a client that leaves never counts, during the call or during the wait before a retry", async () => {
    const sleeping = Promise.withResolvers<void>();
    const h = fallbackHarness(upstream, { breaker: { failures: 2 } }, { sleep: (ms, signal) => (sleeping.resolve(), realSleep(ms, signal)) });
    const during = h.start([h.step("gpt-4o-mini", { "x-mock-delay": "2000" })]);
    await upstream.waitForRequests(1);
    during.ctx.abort("client");
    const gone = await during.response;
    expect(gone.status).toBe(499);
    expect(envelopeOf(await gone.text()).internalCode).toBe(ErrorCode.ClientClosed);
    expect((await during.record).error?.code).toBe(ErrorCode.ClientClosed);
    expect(await h.store.list("test", START)).toEqual([]);

    // Another target, whose first answer fails (and counts): the wait before its retry ends with the client.
    upstream.failNext({ status: 503 });
    const waiting = h.start([h.step("gpt-4o", {}, { "cf-aig-max-attempts": "2", "cf-aig-retry-delay": "5000" })]);
    await sleeping.promise;
    const left = performance.now();
    waiting.ctx.abort("client");
    const answer = await waiting.response;
    expect(performance.now() - left).toBeLessThan(1000);
    expect(answer.status).toBe(499);
    expect(envelopeOf(await answer.text()).internalCode).toBe(ErrorCode.ClientClosed);
    expect(upstream.requests).toHaveLength(2);
    expect((await h.store.list("test", START)).map((b) => [b.target.model, b.failures])).toEqual([["gpt-4o", 1]]);
  });

  test("a shutdown during the wait before a retry ends the request with 503/2113", async () => {
    const sleeping = Promise.withResolvers<void>();
    const h = fallbackHarness(upstream, {}, { sleep: (ms, signal) => (sleeping.resolve(), realSleep(ms, signal)) });
    upstream.failNext({ status: 503 });
    const run = h.start([h.step("gpt-4o-mini", {}, { "cf-aig-max-attempts": "2", "cf-aig-retry-delay": "5000" })]);
    await sleeping.promise;
    run.ctx.abort("shutdown");
    const answer = await run.response;
    expect(answer.status).toBe(503);
    expect(envelopeOf(await answer.text()).internalCode).toBe(ErrorCode.ShuttingDown);
  });
});

describe("a breaker store that fails", () => {
  /** A shared store out of reach: every call fails, as a Redis client's would. */
  const unreachable = (): BreakerStore => {
    const down = () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    return { allow: down, success: down, failure: down, release: down, list: down, close: () => Promise.resolve() };
  };

  test("does not fail requests: calls go through as if every breaker were closed, and /health shows the fault", async () => {
    await using gw = await startTestGateway({ upstream: upstream.url, config: { plugins: [fallback({ breakers: unreachable() }), "logging"] } });
    const chat = () =>
      fetch(`${gw.base()}/openai/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-test", "cf-aig-max-attempts": "2" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages }),
      });
    expect((await chat()).status).toBe(200);
    upstream.failNext({ status: 503 });
    expect((await chat()).status).toBe(200);
    expect(upstream.requests).toHaveLength(3);
    const health = (await (await fetch(`${gw.url}/health`)).json()) as { status: string; faults: { component: string; reason: string; count: number }[] };
    expect(health.status).toBe("degraded");
    expect(health.faults.map((f) => f.component)).toEqual(["breakers"]);
    // The reason names the latest failed call and the error's code; the count covers every call:
    // allow, then allow + failure + allow before the retry (a success is only reported for a probe).
    expect(health.faults[0].reason).toEndWith(": ECONNREFUSED");
    expect(health.faults[0].count).toBe(4);
  });
});

describe("breaker store", () => {
  const settings = { failures: 1, windowMs: 60_000, cooldownMs: 30_000 };

  test("keeps targets apart even when their parts would join into the same text", async () => {
    const store = new MemoryBreakerStore();
    await store.failure({ gatewayId: "a", provider: "b|c", baseUrl: "u", model: "m" }, settings, START);
    expect(await store.allow({ gatewayId: "a|b", provider: "c", baseUrl: "u", model: "m" }, settings, START)).toEqual({ allowed: true, probe: false });
    expect(await store.allow({ gatewayId: "a", provider: "b|c", baseUrl: "u", model: "m" }, settings, START)).toEqual({ allowed: false, retryAt: START + 30_000 });
    expect(await store.allow({ gatewayId: "a", provider: "b|c", baseUrl: "u", model: null }, settings, START)).toEqual({ allowed: true, probe: false });
  });

  test("holds at most maxTargets, dropping closed breakers whose failures aged out first", async () => {
    const store = new MemoryBreakerStore({ maxTargets: 2 });
    const target = (model: string) => ({ gatewayId: "g", provider: "p", baseUrl: "u", model });
    const counting = { ...settings, failures: 5 };
    await store.failure(target("old"), counting, START);
    await store.failure(target("open"), settings, START + 50_000);
    await store.failure(target("new"), counting, START + 70_000);
    expect(store.size).toBe(2);
    expect((await store.list("g", START + 70_000)).map((s) => [s.target.model, s.state])).toEqual([
      ["open", "open"],
      ["new", "closed"],
    ]);
  });
});

describe("through the server", () => {
  const ADMIN = "admin-token-for-breaker-tests";
  let gw: TestGateway;
  const clock = { now: START };

  beforeAll(async () => {
    const config: Config = {
      server: { adminToken: ADMIN },
      gateways: { fragile: { breaker: { failures: 1, cooldown: 30 } }, quiet: {} },
      plugins: [fallback({ now: () => clock.now }), "logging"],
    };
    gw = await startTestGateway({ upstream: upstream.url, config });
  });
  afterAll(() => gw.stop());
  beforeEach(() => {
    // The admin API reads the real clock: keep the plugin's close to it.
    clock.now = Date.now();
  });

  const chat = (gateway: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.base(gateway)}/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test", ...headers },
      body: JSON.stringify({ model: "gpt-4o-mini", messages }),
    });
  const universal = (gateway: string, steps: unknown) =>
    fetch(gw.base(gateway), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(steps) });
  const breakers = (gateway: string, token = ADMIN) =>
    fetch(`${gw.url}/client/v4/accounts/local/ai-gateway/gateways/${gateway}/breakers`, { headers: { authorization: `Bearer ${token}` } });

  test("the admin API lists a gateway's breakers", async () => {
    const opened = clock.now;
    expect((await chat("fragile", { "x-mock-status": "500" })).status).toBe(500);
    const res = await breakers("fragile");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      success: true,
      errors: [],
      messages: [],
      result: [
        {
          provider: "openai",
          base_url: `${upstream.url}/v1`,
          model: "gpt-4o-mini",
          state: "open",
          failures: 1,
          opened_at: new Date(opened).toISOString(),
          retry_at: new Date(opened + 30_000).toISOString(),
        },
      ],
    });
    // A gateway whose targets never failed has nothing to list: every breaker is closed.
    expect(((await (await breakers("quiet")).json()) as { result: unknown[] }).result).toEqual([]);
    expect((await breakers("fragile", "wrong")).status).toBe(401);
    expect((await breakers("nope")).status).toBe(404);
  });

  test("Universal: when every step's breaker is open, 503/2115 with Retry-After and nothing is sent", async () => {
    const step = (model: string, fail: boolean) => ({
      provider: "openai",
      endpoint: "chat/completions",
      headers: { authorization: "Bearer sk-test", ...(fail ? { "x-mock-status": "500" } : {}) },
      query: { model, messages },
    });
    const first = await universal("fragile", [step("model-a", true), step("model-b", true)]);
    expect(first.status).toBe(500);
    expect(first.headers.get("cf-aig-step")).toBe("1");
    upstream.reset();
    clock.now += 10_000;
    const res = await universal("fragile", [step("model-a", false), step("model-b", false)]);
    const body = (await res.json()) as { internalCode: number; message: string };
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("20");
    expect(body).toMatchObject({ internalCode: ErrorCode.CircuitOpen, message: "No step could be tried: the circuit breaker is open for openai (model-a), openai (model-b); retry in 20 s" });
    expect(upstream.requests).toHaveLength(0);
  });
});
