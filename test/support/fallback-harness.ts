/**
 * Multi-step requests without a transport: a hand-built `RequestContext` run through the real
 * `Pipeline` and the real upstream terminal against the mock provider, with the fallback plugin's
 * clock and sleep in the test's hands.
 *
 * @example
 * const h = fallbackHarness(upstream, { breaker: { failures: 2 } });
 * const { response, record } = await h.run([h.step("gpt-4o-mini", { "x-mock-status": "503" }), h.anthropicStep()]);
 */
import { tmpdir } from "node:os";
import { fallback } from "../../plugins/fallback/index.ts";
import type { Sleep } from "../../plugins/fallback/backoff.ts";
import { validateConfig } from "../../src/config/loader.ts";
import { Pipeline } from "../../src/pipeline/pipeline.ts";
import { createRegistry } from "../../src/providers/registry.ts";
import { definePlugin, RequestContext, type Attempt, type GatewayConfig, type Plugin, type RequestRecord, type Step } from "../../src/sdk.ts";
import { consoleLogger } from "../../src/server/logger.ts";
import { MemoryBreakerStore } from "../../src/store/memory/breakers.ts";
import { upstreamAttempt } from "../../src/upstream/attempt.ts";
import { mockProviders } from "./gateway.ts";
import type { MockUpstream } from "./mock-upstream.ts";

const encoder = new TextEncoder();
/** Where the harness clock starts: a whole second, so an HTTP-date Retry-After is exact. */
export const START = Math.floor(Date.now() / 1000) * 1000;
export const messages = [{ role: "user", content: "hi" }];

export interface Started {
  ctx: RequestContext;
  response: Promise<Response>;
  record: Promise<RequestRecord>;
}

/** A base URL nothing listens on: calls to it are refused. */
export function refusingBaseUrl(): string {
  const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const url = `http://127.0.0.1:${closed.port}`;
  closed.stop(true);
  return url;
}

/**
 * Gateway `test` with `gateway` as its config; `delays` lists every wait fallback asked for (unless
 * `sleep` is given); `inner` plugins run after fallback, once per attempt; `clock.now` is the breakers' time.
 */
export function fallbackHarness(upstream: MockUpstream, gateway: GatewayConfig = {}, options: { sleep?: Sleep; inner?: Plugin[] } = {}) {
  const config = validateConfig({ providers: { ...mockProviders(upstream.url), "custom-dead": { baseUrl: refusingBaseUrl() } }, gateways: { test: gateway } }, null, tmpdir());
  const providers = createRegistry(config.providers);
  const store = new MemoryBreakerStore();
  const clock = { now: START };
  const delays: number[] = [];
  const sleep: Sleep =
    options.sleep ??
    (async (ms, signal) => {
      delays.push(ms);
      if (signal.aborted) throw signal.reason;
    });
  const records = new WeakMap<RequestContext, PromiseWithResolvers<RequestRecord>>();
  const recorder = definePlugin({ name: "recorder", onComplete: (record, ctx) => records.get(ctx)?.resolve(record) });
  const plugins = [fallback({ now: () => clock.now, sleep, breakers: store }), recorder, ...(options.inner ?? [])];
  const pipeline = new Pipeline(plugins, upstreamAttempt(providers, config), consoleLogger(true));

  /** An OpenAI chat step; `headers` go upstream (`x-mock-*` script the mock), `stepOptions` are its own `cf-aig-*`. */
  const step = (model: string, headers: Record<string, string> = {}, stepOptions?: Record<string, string>, body: object = {}): Step => ({
    provider: providers.get("openai")!,
    endpoint: "chat/completions",
    search: "",
    method: "POST",
    headers: new Headers({ "content-type": "application/json", authorization: "Bearer sk-test", ...headers }),
    options: stepOptions ? new Headers(stepOptions) : null,
    body: encoder.encode(JSON.stringify({ model, messages, ...body })),
  });
  const anthropicStep = (headers: Record<string, string> = {}): Step => ({
    provider: providers.get("anthropic")!,
    endpoint: "v1/messages",
    search: "",
    method: "POST",
    headers: new Headers({ "content-type": "application/json", "x-api-key": "sk-ant", "anthropic-version": "2023-06-01", ...headers }),
    options: null,
    body: encoder.encode(JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 10, messages })),
  });
  /** A step to provider `custom-dead`, whose connections are refused. */
  const deadStep = (stepOptions?: Record<string, string>): Step => ({ ...step("dead-model", {}, stepOptions), provider: providers.get("custom-dead")! });

  /** Starts a request; its record resolves once the answer's body was read (or cancelled). */
  function start(steps: Step[], headers: Record<string, string> = {}): Started {
    const ctx = new RequestContext({
      gateway: config.gateways.get("test")!,
      accountId: "local",
      requestType: steps.length > 1 ? "universal" : "provider",
      headers: new Headers(headers),
      steps,
      clientAddress: null,
    });
    const record = Promise.withResolvers<RequestRecord>();
    records.set(ctx, record);
    return { ctx, response: pipeline.run(ctx), record: record.promise };
  }

  /** Runs a request to the end: its answer read whole (`text` is null when the stream broke), its record built. */
  async function run(steps: Step[], headers: Record<string, string> = {}) {
    const started = start(steps, headers);
    const response = await started.response;
    const text = await response.text().catch(() => null);
    return { ctx: started.ctx, response, text, record: await started.record };
  }

  return { store, clock, delays, step, anthropicStep, deadStep, start, run };
}

/** Each attempt's status, or its error for calls that got no answer and skipped steps. */
export const statuses = (attempts: Attempt[]) => attempts.map((a) => a.status ?? a.error);

/** The AiGatewayError envelope in an answer's text. */
export const envelopeOf = (text: string | null) => JSON.parse(text!) as { internalCode: number; message: string };
