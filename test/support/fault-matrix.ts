/**
 * What the fault matrix (test/faults/) shares: the real gateway in front of the fault upstream
 * (test/support/fault-upstream.ts) with short time limits, the request each fault needs, and what a
 * client must see for each fault on an HTTP transport, where the answer goes out as the provider
 * sent it (provider routes, Universal, compat to an OpenAI-speaking provider).
 *
 * @example
 * await using f = await faultGateway();
 * await expectHttpFault("reset-mid-stream", (headers) => fetch(`${f.gw.base()}/openai/chat/completions`, post(chatBody("reset-mid-stream"), headers)), f);
 */
import { expect } from "bun:test";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import type { Config } from "../../src/sdk.ts";
import type { LogDetail } from "../../src/store/types.ts";
import { envelopeOf, expectGatewayError, ULID } from "./gateway-error.ts";
import { startTestGateway, type TestGateway } from "./gateway.ts";
import { FAULT_USAGE, garbageStream, jsonAnswer, splitWrites, startFaultUpstream, streamEvents, type FaultName, type FaultUpstream } from "./fault-upstream.ts";

/** The first-byte limit and the stream idle limit of the fault gateways: short, so a silent fault costs a fraction of a second. */
export const LIMIT_MS = 300;
/** A test that takes longer than this hangs somewhere. */
export const CASE_TIMEOUT_MS = 5_000;

export interface FaultGateway extends AsyncDisposable {
  upstream: FaultUpstream;
  gw: TestGateway;
  /** The stored log of this answer (by its `cf-aig-log-id` or the id itself), after settling. */
  log(response: Response | string): Promise<LogDetail | null>;
  /** The stored log of the one request with this event id, after settling. */
  logByEvent(eventId: string): Promise<LogDetail | null>;
  /** Resolves once the gateway holds no request and no upstream connection: nothing was left hanging. */
  expectIdle(): Promise<void>;
}

/**
 * The gateway with openai and anthropic on the fault upstream, `requestTimeout` and
 * `streamIdleTimeout` of {@link LIMIT_MS}, and the fallback plugin (its breaker out of the way: these
 * tests fail on purpose) before logging. `config` adds to it (routes, more gateways).
 */
export async function faultGateway(config: Config = {}): Promise<FaultGateway> {
  const upstream = await startFaultUpstream();
  let gw: TestGateway;
  try {
    gw = await startTestGateway({
      config: {
        plugins: ["fallback", "logging"],
        ...config,
        providers: { openai: { baseUrl: `${upstream.url}/v1` }, anthropic: { baseUrl: upstream.url }, ...config.providers },
        gateways: { default: { requestTimeout: LIMIT_MS, streamIdleTimeout: LIMIT_MS, breaker: { failures: 1_000_000 } }, ...config.gateways },
      },
    });
  } catch (error) {
    await upstream.stop();
    throw error;
  }
  const store = gw.running.handle.stores.logs;
  return {
    upstream,
    gw,
    async log(response) {
      const id = typeof response === "string" ? response : response.headers.get("cf-aig-log-id");
      if (!id) throw new Error("the answer has no cf-aig-log-id");
      await gw.settle();
      return store.get("default", id);
    },
    async logByEvent(eventId) {
      await gw.settle();
      const { rows } = await store.list("default", { page: 1, perPage: 2, orderBy: "created_at", direction: "asc", filters: [{ key: "event_id", operator: "eq", value: [eventId] }] });
      expect(rows).toHaveLength(1);
      return store.get("default", rows[0].id);
    },
    async expectIdle() {
      await gw.settle();
      await until(() => upstream.openConnections() === 0, "the gateway to let go of every upstream connection");
      expect(gw.running.pipeline.inFlight).toBe(0);
    },
    async [Symbol.asyncDispose]() {
      await gw.stop();
      await upstream.stop();
    },
  };
}

/** Polls `check` (every 10 ms, up to 2 s) until it holds. */
export async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 2_000;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** Faults whose answer is an SSE stream (the request asks for one). */
export const STREAMING: ReadonlySet<FaultName> = new Set(["ok-stream", "reset-mid-stream", "silent-mid-stream", "garbage-sse", "split-sse", "no-done", "truncated-stream"]);

/** An OpenAI chat completion body that picks `fault` at the fault upstream. */
export function chatBody(fault: FaultName, model = `fault-${fault}`): Record<string, unknown> {
  return { model, messages: [{ role: "user", content: "hello" }], stream: STREAMING.has(fault), max_tokens: 32 };
}

/** A JSON POST. */
export function post(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers }, body: JSON.stringify(body) };
}

/** Reads a body to its end; returns what arrived and whether the connection ended cleanly. */
export async function readAll(response: Response): Promise<{ text: string; ended: "clean" | "error" }> {
  const decoder = new TextDecoder();
  let text = "";
  try {
    for await (const chunk of response.body!) text += decoder.decode(chunk, { stream: true });
    return { text, ended: "clean" };
  } catch {
    return { text, ended: "error" };
  }
}

/** The SSE error event the gateway ends a broken stream with, as it goes on the wire (its data checked separately). */
const ERROR_EVENT = /event: error\ndata: (.*)\n\n$/;

/** How an HTTP transport that passes the provider's answer on must answer a fault. */
export type HttpOutcome =
  /** The gateway's own envelope; nothing had gone out yet. */
  | { answer: "envelope"; status: number; code: number }
  /** 200 and the first `events` SSE events as sent, then `event: error` (2114), then a failed connection. */
  | { answer: "broken-stream"; events: number; reason: RegExp }
  /** 200 and part of a non-SSE body, then a failed connection. */
  | { answer: "broken-body" }
  /** 200 and exactly the provider's bytes, ending cleanly. */
  | { answer: "whole"; body: string };

const openaiEvents = streamEvents("openai");
const broke = /ECONNRESET|closed unexpectedly/;

/** Every fault on an HTTP transport that passes the answer on (OpenAI-speaking provider). */
export const HTTP_OUTCOMES: Record<FaultName, HttpOutcome> = {
  ok: { answer: "whole", body: jsonAnswer("openai") },
  "ok-stream": { answer: "whole", body: openaiEvents.join("") },
  "reset-before-headers": { answer: "envelope", status: 502, code: ErrorCode.UpstreamUnreachable },
  "silent-before-headers": { answer: "envelope", status: 504, code: ErrorCode.UpstreamTimeout },
  "reset-mid-body": { answer: "envelope", status: 502, code: ErrorCode.UpstreamUnreachable },
  "reset-mid-chunked-body": { answer: "broken-body" },
  "reset-mid-stream": { answer: "broken-stream", events: 2, reason: broke },
  "silent-mid-stream": { answer: "broken-stream", events: 2, reason: /streamIdleTimeout/ },
  "garbage-sse": { answer: "whole", body: garbageStream("openai") },
  "split-sse": { answer: "whole", body: Buffer.concat(splitWrites("openai")).toString("utf8") },
  "no-done": { answer: "whole", body: openaiEvents.slice(0, -1).join("") },
  "truncated-body": { answer: "envelope", status: 502, code: ErrorCode.UpstreamUnreachable },
  "truncated-large-body": { answer: "broken-body" },
  "truncated-stream": { answer: "broken-stream", events: openaiEvents.length >> 1, reason: broke },
};

/** What the log of a request that met `outcome` says. */
export function recordOf(outcome: HttpOutcome): Partial<LogDetail> {
  switch (outcome.answer) {
    case "envelope":
      return { status_code: outcome.status, success: false, error_code: outcome.code };
    case "whole":
      return { status_code: 200, success: true, error_code: null, tokens_in: FAULT_USAGE.prompt_tokens, tokens_out: FAULT_USAGE.completion_tokens };
    default:
      return { status_code: 200, success: false, error_code: ErrorCode.StreamBroken };
  }
}

let sent = 0;

/**
 * Sends a request with `send` (given the headers to add: a fresh `cf-aig-event-id`) and asserts the
 * client's answer to `fault` on an HTTP transport that passes the provider's answer on, and the log it
 * left (found by that event id); returns the log.
 *
 * A body that breaks before its first chunk reached the client (a non-SSE body under load) fails the
 * client's connection before the status line: Bun sends the head with the first chunk, and the head
 * had already promised 200. That is a failed connection too, and allowed for `broken-body`.
 */
export async function expectHttpFault(fault: FaultName, send: (headers: Record<string, string>) => Promise<Response>, f: FaultGateway): Promise<LogDetail> {
  const outcome = HTTP_OUTCOMES[fault];
  const eventId = `${fault}-${++sent}`;
  const answer = await send({ "cf-aig-event-id": eventId }).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  if (answer instanceof Error) {
    expect({ failed: answer.message, outcome: outcome.answer }).toEqual({ failed: expect.stringMatching(/ECONNRESET|closed/), outcome: "broken-body" });
  } else if (outcome.answer === "envelope") {
    await expectGatewayError(answer, outcome.status, outcome.code);
  } else {
    expect(answer.headers.get("cf-aig-log-id")).toMatch(ULID);
    const { text, ended } = await readAll(answer);
    expect(answer.status).toBe(200);
    if (outcome.answer === "whole") {
      expect({ ended, text }).toEqual({ ended: "clean", text: outcome.body });
    } else if (outcome.answer === "broken-body") {
      expect(ended).toBe("error");
      expect(() => JSON.parse(text)).toThrow();
    } else {
      expect(ended).toBe("error");
      const streamed = openaiEvents.slice(0, outcome.events).join("");
      expect(text.startsWith(streamed)).toBe(true);
      const last = ERROR_EVENT.exec(text.slice(streamed.length));
      expect(last).not.toBeNull();
      expect(JSON.parse(last![1])).toEqual({ ...envelopeOf(502, ErrorCode.StreamBroken), message: expect.stringMatching(outcome.reason) });
    }
  }
  const log = await f.logByEvent(eventId);
  expect(log).toMatchObject({ ...recordOf(outcome), event_id: eventId });
  if (!(answer instanceof Error)) expect(log!.id).toBe(answer.headers.get("cf-aig-log-id")!);
  return log!;
}
