import { describe, expect, test } from "bun:test";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";
import { createAiGateway } from "ai-gateway-provider";
import { ErrorCode } from "../src/pipeline/errors.ts";
import { expectGatewayError } from "./support/gateway-error.ts";
import { MOCK_REPLY } from "./support/mock-upstream.ts";
import { silentProvider } from "./support/silent-provider.ts";
import { gatewayWithMock, replyText } from "./support/with-mock.ts";

const messages = [{ role: "user", content: "say hello to me" }];
const openaiStep = (headers: Record<string, string> = {}) => ({
  provider: "openai",
  endpoint: "chat/completions",
  headers: { authorization: "Bearer sk-openai", ...headers },
  query: { model: "gpt-4o-mini", messages },
});
const anthropicStep = (headers: Record<string, string> = {}) => ({
  provider: "anthropic",
  endpoint: "v1/messages",
  headers: { "x-api-key": "sk-ant", "anthropic-version": "2023-06-01", ...headers },
  query: { model: "claude-sonnet-4-5", max_tokens: 64, messages },
});
const universal = (steps: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(steps),
});
/** A port nothing listens on. */
function closedPort(): number {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}
const withFallback = { plugins: ["fallback", "logging"] as ("fallback" | "logging")[] };

describe("Universal steps fall back in order through the fallback plugin", () => {
  test.each([
    ["a 500", { "x-mock-status": "500" }],
    ["a 429", { "x-mock-status": "429" }],
    ["a first-byte timeout", { "x-mock-delay": "2000", "cf-aig-request-timeout": "50" }],
  ])("step 0 failing with %s is answered by step 1, with cf-aig-step: 1 and both attempts recorded", async (_, failure) => {
    await using t = await gatewayWithMock(withFallback);

    const res = await fetch(t.gw.base(), universal([openaiStep(failure), anthropicStep()]));

    expect(res.status).toBe(200);
    expect(res.headers.get("cf-aig-step")).toBe("1");
    expect(((await res.json()) as { type: string }).type).toBe("message");
    const log = await t.log(res);
    expect(log).toMatchObject({ provider: "anthropic", step: 1, success: true, request_type: "universal" });
    expect(log!.attempts.map((a) => ({ step: a.step, provider: a.provider }))).toEqual([
      { step: 0, provider: "openai" },
      { step: 1, provider: "anthropic" },
    ]);
  });

  test("a step whose provider refuses connections is passed over", async () => {
    await using t = await gatewayWithMock((upstream) => ({ ...withFallback, providers: { "custom-down": { baseUrl: `http://127.0.0.1:${closedPort()}` }, openai: { baseUrl: `${upstream}/v1` } } }));
    const down = { provider: "custom-down", endpoint: "chat/completions", headers: {}, query: { model: "m", messages } };

    const res = await fetch(t.gw.base(), universal([down, openaiStep()]));

    expect(res.status).toBe(200);
    expect(res.headers.get("cf-aig-step")).toBe("1");
    expect(await replyText(res)).toBe(MOCK_REPLY);
  });

  test("no fallback on success: one upstream call", async () => {
    await using t = await gatewayWithMock(withFallback);

    const res = await fetch(t.gw.base(), universal([openaiStep(), anthropicStep()]));

    expect(res.headers.get("cf-aig-step")).toBe("0");
    await res.arrayBuffer();
    expect(t.upstream.requests).toHaveLength(1);
  });

  test("when every step fails, the last provider's error passes through untouched", async () => {
    await using t = await gatewayWithMock(withFallback);

    const res = await fetch(t.gw.base(), universal([openaiStep({ "x-mock-status": "500" }), anthropicStep({ "x-mock-status": "503" })]));

    expect(res.status).toBe(503);
    expect(res.headers.get("cf-aig-step")).toBe("1");
    expect(((await res.json()) as { type?: string }).type).toBe("error");
    expect(await t.log(res)).toMatchObject({ success: false, step: 1 });
  });

  test("a step's retries come before the next step: maxAttempts 2 on step 0 makes two calls to it first", async () => {
    await using t = await gatewayWithMock(withFallback);
    const step0 = { ...openaiStep({ "x-mock-status": "500" }), config: { maxAttempts: 2, retryDelay: 10 } };

    const res = await fetch(t.gw.base(), universal([step0, anthropicStep()]));

    expect(res.headers.get("cf-aig-step")).toBe("1");
    await res.arrayBuffer();
    expect(t.upstream.requests.map((r) => r.path)).toEqual(["/v1/chat/completions", "/v1/chat/completions", "/v1/messages"]);
  });

  test("a cached Universal answer is a HIT that names the step that served it", async () => {
    await using t = await gatewayWithMock({ plugins: ["cache", "fallback", "logging"], gateways: { default: { cache: { ttl: 60 } } } });
    const steps = [openaiStep({ "x-mock-status": "500" }), anthropicStep()];

    const first = await fetch(t.gw.base(), universal(steps));
    await first.arrayBuffer();
    await t.gw.settle();
    const second = await fetch(t.gw.base(), universal(steps));

    expect([first.headers.get("cf-aig-cache-status"), second.headers.get("cf-aig-cache-status")]).toEqual(["MISS", "HIT"]);
    expect(second.headers.get("cf-aig-step")).toBe("1");
    expect(((await second.json()) as { type: string }).type).toBe("message");
  });

  test("a rate limit counts a Universal request once, however many steps it tries", async () => {
    await using t = await gatewayWithMock({ plugins: ["rate-limit", "fallback", "logging"], gateways: { default: { rateLimit: { limit: 1, interval: 60 } } } });

    const first = await fetch(t.gw.base(), universal([openaiStep({ "x-mock-status": "500" }), anthropicStep()]));
    const second = await fetch(t.gw.base(), universal([openaiStep()]));

    expect(first.status).toBe(200);
    await expectGatewayError(second, 429, ErrorCode.RateLimited);
  });
});

describe("the ai-gateway-provider package (AI SDK) against Switchboard, only the host changed", () => {
  /** ai-gateway-provider posts to gateway.ai.cloudflare.com; send that host's requests to this gateway instead. */
  function pointAt(gatewayUrl: string): Disposable {
    const original = globalThis.fetch;
    const redirect = (input: string | URL | Request, init?: RequestInit) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      return original(url.replace("https://gateway.ai.cloudflare.com", gatewayUrl), init);
    };
    globalThis.fetch = Object.assign(redirect, { preconnect: original.preconnect }) as typeof fetch;
    return { [Symbol.dispose]: () => (globalThis.fetch = original) };
  }

  test("two models, the first failing: the answer comes from the second, through the Universal endpoint", async () => {
    await using t = await gatewayWithMock(withFallback);
    using _ = pointAt(t.gw.url);
    t.upstream.failNext({ status: 500 });
    const aigateway = createAiGateway({ accountId: "local", gateway: "default", apiKey: "unused-when-auth-is-off" });
    const openai = createOpenAI({ apiKey: "sk-openai" });
    const anthropic = createAnthropic({ apiKey: "sk-ant" });

    const { text } = await generateText({ model: aigateway([openai.chat("gpt-4o-mini"), anthropic("claude-sonnet-4-5")]), prompt: "say hello to me", maxRetries: 0 });

    expect(text).toBe(MOCK_REPLY);
    expect(t.upstream.requests.map((r) => r.path)).toEqual(["/v1/chat/completions", "/v1/messages"]);
    expect(t.upstream.requests[1].headers["x-api-key"]).toBe("sk-ant");
  });

  test("streams through the first model when it works", async () => {
    await using t = await gatewayWithMock(withFallback);
    using _ = pointAt(t.gw.url);
    const aigateway = createAiGateway({ accountId: "local", gateway: "default", apiKey: "unused-when-auth-is-off" });
    const openai = createOpenAI({ apiKey: "sk-openai" });

    const result = streamText({ model: aigateway([openai.chat("gpt-4o-mini")]), prompt: "say hello to me", maxRetries: 0 });
    let text = "";
    for await (const part of result.textStream) text += part;

    expect(text).toBe(MOCK_REPLY);
  });
});

describe("the client leaving a Universal request", () => {
  test("aborts the upstream call", async () => {
    using provider = silentProvider();
    await using t = await gatewayWithMock({ ...withFallback, providers: { "custom-silent": { baseUrl: provider.baseUrl } } });
    const controller = new AbortController();

    const answer = fetch(t.gw.base(), { ...universal([{ provider: "custom-silent", endpoint: "x", headers: {}, query: {} }]), signal: controller.signal }).catch(() => null);
    await provider.arrived;
    controller.abort();
    await provider.aborted;
    await answer;

    const [log] = await t.logs();
    expect(log).toMatchObject({ aborted: true, success: false, error_code: ErrorCode.ClientClosed });
  });
});
