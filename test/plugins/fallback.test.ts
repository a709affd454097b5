import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { fallback } from "../../plugins/fallback/index.ts";
import { sleep as realSleep } from "../../plugins/fallback/backoff.ts";
import { definePlugin, ErrorCode, type Config } from "../../src/sdk.ts";
import { envelopeOf, fallbackHarness, messages, START, statuses } from "../support/fallback-harness.ts";
import { startTestGateway, type TestGateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.stop());
beforeEach(() => upstream.reset());

describe("retries", () => {
  test.each([
    ["constant", [10, 10, 10]],
    ["linear", [10, 20, 30]],
    ["exponential", [10, 20, 40]],
  ])("%s backoff waits %p between four attempts, and the fourth answer is the client's", async (backoff, expected) => {
    const h = fallbackHarness(upstream);
    upstream.failNext({ status: 503, times: 3 });
    const { response, record } = await h.run([h.step("gpt-4o-mini", {}, { "cf-aig-max-attempts": "4", "cf-aig-retry-delay": "10", "cf-aig-backoff": backoff })]);
    expect(response.status).toBe(200);
    expect(h.delays).toEqual(expected);
    expect(upstream.requests).toHaveLength(4);
    expect(statuses(record.attempts)).toEqual([503, 503, 503, 200]);
    expect(record.success).toBe(true);
  });

  test("the waits are real: the provider sees the attempts at least the backoff apart", async () => {
    const seen: number[] = [];
    const stamp = definePlugin({ name: "stamp", handle: (_ctx, next) => (seen.push(performance.now()), next()) });
    const h = fallbackHarness(upstream, {}, { sleep: realSleep, inner: [stamp] });
    upstream.failNext({ status: 500, times: 2 });
    const { response } = await h.run([h.step("gpt-4o-mini")], { "cf-aig-max-attempts": "3", "cf-aig-retry-delay": "20", "cf-aig-backoff": "exponential" });
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(3);
    // A timer may fire up to a millisecond early by the clock's rounding.
    expect(seen[1] - seen[0]).toBeGreaterThanOrEqual(19);
    expect(seen[2] - seen[1]).toBeGreaterThanOrEqual(39);
  });

  test("the gateway's retry config applies when no header says otherwise; headers win over it", async () => {
    const h = fallbackHarness(upstream, { retry: { maxAttempts: 3, delay: 25, backoff: "linear" } });
    upstream.failNext({ status: 502, times: 2 });
    expect((await h.run([h.step("gpt-4o-mini")])).response.status).toBe(200);
    expect(h.delays).toEqual([25, 50]);
    expect(upstream.requests).toHaveLength(3);

    upstream.reset();
    upstream.failNext({ status: 502, times: 2 });
    const { response } = await h.run([h.step("gpt-4o-mini")], { "cf-aig-max-attempts": "2" });
    expect(response.status).toBe(502);
    expect(upstream.requests).toHaveLength(2);
  });

  test.each([
    ["seconds", "2", 2000],
    ["seconds beyond the cap", "60", 5000],
    ["an HTTP date", new Date(START + 3000).toUTCString(), 3000],
    ["a shorter wait than the backoff", "0", 100],
  ])("Retry-After in %s sets the wait when longer than the backoff, capped at 5000 ms", async (_form, retryAfter, expected) => {
    const h = fallbackHarness(upstream);
    upstream.failNext({ status: 429, headers: { "retry-after": retryAfter } });
    const { response } = await h.run([h.step("gpt-4o-mini", {}, { "cf-aig-max-attempts": "2", "cf-aig-retry-delay": "100" })]);
    expect(response.status).toBe(200);
    expect(h.delays).toEqual([expected]);
  });

  test("an answer that is not a failure is returned at once: 200, and a 400 passes through untouched", async () => {
    const h = fallbackHarness(upstream);
    const retrying = { "cf-aig-max-attempts": "3", "cf-aig-retry-delay": "10" };
    expect((await h.run([h.step("gpt-4o-mini")], retrying)).response.status).toBe(200);
    expect(upstream.requests).toHaveLength(1);

    upstream.reset();
    const refused = await h.run([h.step("gpt-4o-mini", { "x-mock-status": "400" })], retrying);
    expect(refused.response.status).toBe(400);
    expect(JSON.parse(refused.text!)).toEqual({ error: { message: "mock: scripted 400", type: "invalid_request_error", param: null, code: null } });
    expect(upstream.requests).toHaveLength(1);
    expect(h.delays).toEqual([]);
    expect(await h.store.list("test", START)).toEqual([]);
  });

  test("retry.statuses replaces the default set of failed answers", async () => {
    const h = fallbackHarness(upstream, { retry: { maxAttempts: 2, statuses: [409] } });
    upstream.failNext({ status: 409 });
    expect((await h.run([h.step("gpt-4o-mini")])).response.status).toBe(200);
    expect(upstream.requests).toHaveLength(2);
    upstream.reset();
    upstream.failNext({ status: 503 });
    expect((await h.run([h.step("gpt-4o-mini")])).response.status).toBe(503);
    expect(upstream.requests).toHaveLength(1);
  });

  test("a refused connection is retried, then the next step serves", async () => {
    const h = fallbackHarness(upstream);
    const { response, record, ctx } = await h.run([h.deadStep({ "cf-aig-max-attempts": "2" }), h.step("gpt-4o-mini")]);
    expect(response.status).toBe(200);
    expect(response.headers.get("cf-aig-step")).toBe("1");
    expect(ctx.stepIndex).toBe(1);
    expect(record.attempts.map((a) => [a.step, a.provider, a.status])).toEqual([
      [0, "custom-dead", null],
      [0, "custom-dead", null],
      [1, "openai", 200],
    ]);
    expect(record.attempts[0].error).toStartWith("Could not reach custom-dead");
  });

  test("a first-byte timeout is retried", async () => {
    const h = fallbackHarness(upstream);
    upstream.failNext({ delayMs: 400 });
    const { response, record } = await h.run([h.step("gpt-4o-mini", {}, { "cf-aig-request-timeout": "50", "cf-aig-max-attempts": "2" })]);
    expect(response.status).toBe(200);
    expect(statuses(record.attempts)).toEqual(["openai sent no response within 50 ms (cf-aig-request-timeout / requestTimeout)", 200]);
  });
});

describe("fallback across steps", () => {
  test("moves to the next step once a step's attempts are used up; cf-aig-step and the record name the serving step", async () => {
    const h = fallbackHarness(upstream);
    const { response, record } = await h.run([h.step("gpt-4o-mini", { "x-mock-status": "503" }, { "cf-aig-max-attempts": "2" }), h.anthropicStep()]);
    expect(response.status).toBe(200);
    expect(response.headers.get("cf-aig-step")).toBe("1");
    expect(upstream.requests.map((r) => r.path)).toEqual(["/v1/chat/completions", "/v1/chat/completions", "/v1/messages"]);
    expect(record).toMatchObject({ step: 1, provider: "anthropic", status: 200, success: true });
    expect(statuses(record.attempts)).toEqual([503, 503, 200]);
  });

  test("a step whose target already failed in this request is skipped; the last failed answer reaches the client untouched", async () => {
    const h = fallbackHarness(upstream);
    const failing = h.step("gpt-4o-mini", { "x-mock-status": "500" });
    const { response, text, record } = await h.run([failing, { ...failing }, h.step("gpt-4o-mini", { "x-mock-status": "529" }, undefined, { temperature: 0 })]);
    // Step 2 asks for the same target too (only the body differs): skipped as well.
    expect(response.status).toBe(500);
    expect(response.headers.get("cf-aig-step")).toBe("0");
    expect(JSON.parse(text!)).toEqual({ error: { message: "mock: scripted 500", type: "server_error", param: null, code: null } });
    expect(upstream.requests).toHaveLength(1);
    expect(record.attempts).toEqual([
      expect.objectContaining({ step: 0, status: 500 }),
      { step: 1, provider: "openai", status: null, durationMs: 0, ttfbMs: null, error: "skipped: target failed earlier in this request" },
      { step: 2, provider: "openai", status: null, durationMs: 0, ttfbMs: null, error: "skipped: target failed earlier in this request" },
    ]);
  });

  test("when every step failed, the last failure is the answer: a gateway error when the last step could not be reached", async () => {
    const h = fallbackHarness(upstream);
    const { response, text, record } = await h.run([h.step("gpt-4o-mini", { "x-mock-status": "503" }), h.deadStep()]);
    expect(response.status).toBe(502);
    expect(response.headers.get("cf-aig-step")).toBe("1");
    expect(envelopeOf(text).internalCode).toBe(ErrorCode.UpstreamUnreachable);
    expect(record.error?.code).toBe(ErrorCode.UpstreamUnreachable);
  });

  test("errors that another try cannot fix end the request at once, uncounted (a refused URL)", async () => {
    const h = fallbackHarness(upstream);
    const { response, text } = await h.run([{ ...h.step("gpt-4o-mini"), endpoint: "../../etc" }, h.anthropicStep()], { "cf-aig-max-attempts": "3" });
    expect(response.status).toBe(400);
    expect(envelopeOf(text).internalCode).toBe(ErrorCode.BadRequest);
    expect(upstream.requests).toHaveLength(0);
    expect(await h.store.list("test", START)).toEqual([]);
  });

  test("a step's own invalid option is refused before anything is sent, naming the header and the step", async () => {
    const h = fallbackHarness(upstream);
    const { response, text } = await h.run([h.step("gpt-4o-mini"), h.step("gpt-4o", {}, { "cf-aig-backoff": "fibonacci" })]);
    expect(response.status).toBe(400);
    expect(envelopeOf(text)).toMatchObject({ internalCode: ErrorCode.InvalidHeader, message: 'Header cf-aig-backoff (step 1) must be constant, linear or exponential; got "fibonacci"' });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe("through the server", () => {
  let gw: TestGateway;
  const delays: number[] = [];

  beforeAll(async () => {
    const config: Config = {
      gateways: { retrying: { retry: { maxAttempts: 2 } } },
      plugins: [fallback({ sleep: async (ms) => void delays.push(ms) }), "logging"],
    };
    gw = await startTestGateway({ upstream: upstream.url, config });
  });
  afterAll(() => gw.stop());
  beforeEach(() => {
    delays.length = 0;
  });

  const chat = (gateway: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.base(gateway)}/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test", ...headers },
      body: JSON.stringify({ model: "gpt-4o-mini", messages }),
    });
  const logOf = async (response: Response, gateway: string) => {
    await gw.settle();
    return gw.running.handle.stores.logs.get(gateway, response.headers.get("cf-aig-log-id")!);
  };

  test("a provider-native request is retried by the gateway's retry config", async () => {
    upstream.failNext({ status: 503 });
    const res = await chat("retrying");
    expect(res.status).toBe(200);
    expect(res.headers.get("cf-aig-step")).toBe("0");
    expect(upstream.requests).toHaveLength(2);
    const log = await logOf(res, "retrying");
    expect(log?.attempts.map((a) => [a.step, a.provider, a.status])).toEqual([
      [0, "openai", 503],
      [0, "openai", 200],
    ]);
  });

  test.each([
    ["cf-aig-max-attempts", "6"],
    ["cf-aig-retry-delay", "5001"],
    ["cf-aig-backoff", "random"],
  ])("%s: %s is refused with 400/2104 naming the header, and nothing is sent", async (header, value) => {
    const res = await chat("default", { [header]: value });
    const body = (await res.json()) as { internalCode: number; message: string };
    expect(res.status).toBe(400);
    expect(body.internalCode).toBe(ErrorCode.InvalidHeader);
    expect(body.message).toStartWith(`Header ${header} must be`);
    expect(upstream.requests).toHaveLength(0);
  });

  test("Universal: a step's config retries it, then the next step serves", async () => {
    const steps = [
      {
        provider: "openai",
        endpoint: "chat/completions",
        headers: { authorization: "Bearer sk-test", "x-mock-status": "503" },
        config: { maxAttempts: 3, retryDelay: 10, backoff: "exponential" },
        query: { model: "gpt-4o-mini", messages },
      },
      { provider: "anthropic", endpoint: "v1/messages", headers: { "x-api-key": "sk-ant", "anthropic-version": "2023-06-01" }, query: { model: "claude-sonnet-4-5", max_tokens: 10, messages } },
    ];
    const res = await fetch(gw.base(), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(steps) });
    expect(res.status).toBe(200);
    expect(res.headers.get("cf-aig-step")).toBe("1");
    expect(((await res.json()) as { type: string }).type).toBe("message");
    expect(delays).toEqual([10, 20]);
    expect(upstream.requests.map((r) => r.path)).toEqual(["/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions", "/v1/messages"]);
    const log = await logOf(res, "default");
    expect(log).toMatchObject({ provider: "anthropic", step: 1, status_code: 200 });
    expect(log?.attempts.map((a) => a.status)).toEqual([503, 503, 503, 200]);
  });
});
