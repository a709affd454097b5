/**
 * Issue 22, faults on the OpenAI-compatible endpoint (`/compat/chat/completions`). To an
 * OpenAI-speaking provider (`openai/…`) the answer passes through, so each fault is answered exactly
 * as on the provider route. To Anthropic (`anthropic/…`) the answer is translated: the gateway's own
 * refusals stay AiGatewayError envelopes, a translated stream that breaks ends with the error event
 * and a failed connection, malformed events are dropped, and a stream cut before its end marker ends
 * with an error the `openai` client raises — never a short answer taken as whole. A model route
 * falls back to its next target on a fault before the provider's headers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { envelopeOf, expectGatewayError, ULID } from "../support/gateway-error.ts";
import { FAULT_NAMES, FAULT_REPLY, FAULT_USAGE, streamEvents, type FaultName } from "../support/fault-upstream.ts";
import { CASE_TIMEOUT_MS, chatBody, expectHttpFault, faultGateway, post, readAll, type FaultGateway } from "../support/fault-matrix.ts";

let f: FaultGateway;
beforeAll(async () => {
  f = await faultGateway({
    routes: {
      "reset-first": { targets: [{ model: "anthropic/fault-reset-before-headers" }, { model: "openai/fault-ok" }] },
      "silent-first": { targets: [{ model: "anthropic/fault-silent-before-headers" }, { model: "openai/fault-ok" }] },
      "broken-first": { targets: [{ model: "anthropic/fault-reset-mid-body" }, { model: "openai/fault-ok" }] },
    },
  });
});
afterAll(() => f[Symbol.asyncDispose]());

const compat = (body: unknown, headers: Record<string, string> = {}) => fetch(`${f.gw.base()}/compat/chat/completions`, post(body, headers));

describe("compat to an OpenAI-speaking provider: the answer passes through", () => {
  test.each(FAULT_NAMES)(
    "%s: answered as on the provider route, and logged as a compat request",
    async (fault) => {
      const log = await expectHttpFault(fault, (headers) => compat(chatBody(fault, `openai/fault-${fault}`), headers), f);
      expect(log).toMatchObject({ request_type: "compat", provider: "openai", model: `fault-${fault}` });
      await f.expectIdle();
    },
    CASE_TIMEOUT_MS,
  );
});

/** How a compat request translated from Anthropic ends. */
type Translated =
  | { answer: "envelope"; status: number; code: number; logged: number }
  | { answer: "completion" }
  /** 200, OpenAI chunks whose deltas spell `text`, then how the stream ended. */
  | { answer: "chunks"; text: string; end: "done" | "cut-short" | { reason: RegExp } };

const broke = /ECONNRESET|closed unexpectedly/;
const TRANSLATED: Record<FaultName, Translated> = {
  ok: { answer: "completion" },
  "ok-stream": { answer: "chunks", text: FAULT_REPLY, end: "done" },
  "reset-before-headers": { answer: "envelope", status: 502, code: ErrorCode.UpstreamUnreachable, logged: 502 },
  "silent-before-headers": { answer: "envelope", status: 504, code: ErrorCode.UpstreamTimeout, logged: 504 },
  "reset-mid-body": { answer: "envelope", status: 502, code: ErrorCode.UpstreamUnreachable, logged: 502 },
  "reset-mid-chunked-body": { answer: "envelope", status: 502, code: ErrorCode.StreamBroken, logged: 200 },
  "reset-mid-stream": { answer: "chunks", text: "", end: { reason: broke } },
  "silent-mid-stream": { answer: "chunks", text: "", end: { reason: /streamIdleTimeout/ } },
  "garbage-sse": { answer: "chunks", text: FAULT_REPLY, end: "done" },
  "split-sse": { answer: "chunks", text: FAULT_REPLY, end: "done" },
  "no-done": { answer: "chunks", text: FAULT_REPLY, end: "cut-short" },
  "truncated-body": { answer: "envelope", status: 502, code: ErrorCode.UpstreamUnreachable, logged: 502 },
  "truncated-large-body": { answer: "envelope", status: 502, code: ErrorCode.StreamBroken, logged: 200 },
  "truncated-stream": { answer: "chunks", text: "Hello wörld", end: { reason: broke } },
};

interface SseEvent {
  event: string | null;
  data: string;
}

/** The events of an SSE text (complete ones only). */
function events(text: string): SseEvent[] {
  return text
    .split("\n\n")
    .slice(0, -1)
    .map((block) => {
      const lines = block.split("\n");
      const event = lines.find((line) => line.startsWith("event: "))?.slice(7) ?? null;
      return { event, data: lines.filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n") };
    });
}

type Chunk = { object: string; choices: { delta: { content?: string }; finish_reason: string | null }[] };

describe("compat to Anthropic: the answer is translated", () => {
  test.each(FAULT_NAMES)(
    "%s: the client gets a clear answer or a clear error in OpenAI's terms, and the log says how it went",
    async (fault) => {
      const outcome = TRANSLATED[fault];

      const res = await compat(chatBody(fault, `anthropic/fault-${fault}`));
      expect(res.headers.get("cf-aig-log-id")).toMatch(ULID);

      if (outcome.answer === "envelope") {
        await expectGatewayError(res, outcome.status, outcome.code);
        expect(await f.log(res)).toMatchObject({ request_type: "compat", provider: "anthropic", status_code: outcome.logged, success: false, error_code: outcome.code });
        return f.expectIdle();
      }
      const { text, ended } = await readAll(res);
      expect(res.status).toBe(200);
      if (outcome.answer === "completion") {
        expect({ ended, body: JSON.parse(text) }).toMatchObject({ ended: "clean", body: { object: "chat.completion", choices: [{ message: { content: FAULT_REPLY }, finish_reason: "stop" }] } });
      } else {
        const all = events(text);
        const chunks = all.filter((e) => e.event === null && e.data.startsWith('{"id"')).map((e) => JSON.parse(e.data) as Chunk);
        expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk")).toBe(true);
        expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")).toBe(outcome.text);
        const firstOther = all.findIndex((e) => !(e.event === null && e.data.startsWith('{"id"')));
        const rest = firstOther === -1 ? [] : all.slice(firstOther);
        if (outcome.end === "done") {
          expect({ ended, rest, finish: chunks.at(-1)!.choices[0].finish_reason }).toEqual({ ended: "clean", rest: [{ event: null, data: "[DONE]" }], finish: "stop" });
        } else if (outcome.end === "cut-short") {
          // No message_stop: an error the openai client raises, not a finish reason.
          expect({ ended, rest: rest.map((e) => ({ event: e.event, data: e.data === "[DONE]" ? e.data : JSON.parse(e.data) })) }).toEqual({
            ended: "clean",
            rest: [
              { event: null, data: { error: expect.objectContaining({ message: expect.stringContaining("message_stop"), type: "api_error" }) } },
              { event: null, data: "[DONE]" },
            ],
          });
        } else {
          expect(ended).toBe("error");
          expect(rest.map((e) => ({ event: e.event, data: JSON.parse(e.data) }))).toEqual([
            { event: "error", data: { ...envelopeOf(502, ErrorCode.StreamBroken), message: expect.stringMatching(outcome.end.reason) } },
          ]);
        }
      }
      const log = await f.log(res);
      expect(log).toMatchObject({ request_type: "compat", provider: "anthropic" });
      // The provider's stream broke, or ended cleanly before its final event: either way the answer was not whole.
      const broken = outcome.answer === "chunks" && outcome.end !== "done";
      expect(log).toMatchObject(
        broken
          ? { status_code: 200, success: false, error_code: ErrorCode.StreamBroken }
          : { status_code: 200, success: true, error_code: null, tokens_in: FAULT_USAGE.prompt_tokens, tokens_out: FAULT_USAGE.completion_tokens },
      );
      await f.expectIdle();
    },
    CASE_TIMEOUT_MS,
  );

  test("no-done: the log of a translated stream cut before message_stop says success: false", async () => {
    const res = await compat(chatBody("no-done", "anthropic/fault-no-done"));
    const { text, ended } = await readAll(res);

    expect({ status: res.status, ended, done: text.endsWith("data: [DONE]\n\n"), told: text.includes("message_stop") }).toEqual({ status: 200, ended: "clean", done: true, told: true });
    expect(await f.log(res)).toMatchObject({
      request_type: "compat",
      provider: "anthropic",
      status_code: 200,
      success: false,
      aborted: false,
      error_code: ErrorCode.StreamBroken,
      error_message: "the provider's stream broke: anthropic's stream ended before its final event (message_stop)",
      // The tokens were spent all the same: usage still comes from message_start and message_delta.
      tokens_in: FAULT_USAGE.prompt_tokens,
      tokens_out: FAULT_USAGE.completion_tokens,
    });
    await f.expectIdle();
  });

  test.each(["reset-mid-stream", "silent-mid-stream", "truncated-stream", "no-done"] satisfies FaultName[])(
    "%s: the openai client raises while reading the stream; it never takes a short answer as whole",
    async (fault) => {
      const client = new OpenAI({ baseURL: `${f.gw.base()}/compat`, apiKey: "sk-client", maxRetries: 0 });

      const stream = await client.chat.completions.create({ model: `anthropic/fault-${fault}`, messages: [{ role: "user", content: "hello" }], stream: true });
      const read = (async () => {
        for await (const _ of stream) {
          // draining
        }
      })();

      await expect(read).rejects.toThrow();
      await f.expectIdle();
    },
    CASE_TIMEOUT_MS,
  );

  test("garbage between the events is dropped: the openai client reads the whole reply", async () => {
    const client = new OpenAI({ baseURL: `${f.gw.base()}/compat`, apiKey: "sk-client", maxRetries: 0 });

    const stream = await client.chat.completions.create({ model: "anthropic/fault-garbage-sse", messages: [{ role: "user", content: "hello" }], stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";

    expect(text).toBe(FAULT_REPLY);
  });
});

describe("a model route (model: dynamic/<name>) whose first target fails", () => {
  test.each([
    ["reset-first", "reset-before-headers"],
    ["silent-first", "silent-before-headers"],
  ])(
    "%s: before the provider's headers, the next target answers and the log keeps both attempts",
    async (route, fault) => {
      const before = f.upstream.requests.length;

      const res = await compat({ model: `dynamic/${route}`, messages: [{ role: "user", content: "hello" }] });
      const { text, ended } = await readAll(res);

      expect({ status: res.status, ended, provider: res.headers.get("cf-aig-provider"), step: res.headers.get("cf-aig-step") }).toEqual({ status: 200, ended: "clean", provider: "openai", step: "1" });
      expect(JSON.parse(text)).toMatchObject({ choices: [{ message: { content: FAULT_REPLY } }] });
      expect(f.upstream.requests.slice(before).map((r) => [r.path, r.fault])).toEqual([
        ["/v1/messages", fault],
        ["/v1/chat/completions", "ok"],
      ]);
      const log = await f.log(res);
      expect(log).toMatchObject({ request_type: "compat", provider: "openai", step: 1, success: true });
      expect(log!.attempts.map((a) => [a.provider, a.status])).toEqual([
        ["anthropic", null],
        ["openai", 200],
      ]);
      await f.expectIdle();
    },
    CASE_TIMEOUT_MS,
  );

  test("after the provider's headers (a body cut short) there is no fallback: 502/2110, the next target is not called", async () => {
    const before = f.upstream.requests.length;

    const res = await compat({ model: "dynamic/broken-first", messages: [{ role: "user", content: "hello" }] });

    await expectGatewayError(res, 502, ErrorCode.UpstreamUnreachable);
    expect(f.upstream.requests.slice(before).map((r) => r.fault)).toEqual(["reset-mid-body"]);
    expect(await f.log(res)).toMatchObject({ request_type: "compat", provider: "anthropic", step: 0, success: false, error_code: ErrorCode.UpstreamUnreachable });
  });
});

describe("a translated stream that ends cleanly is logged by what the translator saw, not by the clean end", () => {
  const anthropicEvents = streamEvents("anthropic");
  const gemini = (answer: object) => `data: ${JSON.stringify(answer)}\n\n`;
  /** What the scripted provider streams, by the model the request names. */
  const SCRIPTS: Record<string, string> = {
    // The whole answer, its last event (message_stop) not followed by a blank line before the end.
    "unterminated-stop": anthropicEvents.join("").replace(/\n\n$/, ""),
    // An error event in place of the rest, then a clean end.
    "error-event": [...anthropicEvents.slice(0, 3), `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })}\n\n`].join(""),
    // Gemini: a text chunk, then a chunk holding an error, then a clean end.
    "gemini-error": gemini({ candidates: [{ index: 0, content: { role: "model", parts: [{ text: "Hello" }] } }], modelVersion: "gemini-2.5-flash" }) + gemini({ error: { code: 500, message: "Internal error", status: "INTERNAL" } }),
  };
  let scripted: ReturnType<typeof Bun.serve>;
  let g: FaultGateway;
  beforeAll(async () => {
    scripted = Bun.serve({
      port: 0,
      async fetch(request) {
        const model = request.url.includes("/v1beta/models/") ? decodeURIComponent(new URL(request.url).pathname).split("/").at(-1)!.split(":")[0] : ((await request.json()) as { model: string }).model;
        return new Response(SCRIPTS[model], { headers: { "content-type": "text/event-stream" } });
      },
    });
    g = await faultGateway({ providers: { anthropic: { baseUrl: scripted.url.origin }, "google-ai-studio": { baseUrl: scripted.url.origin } } });
  });
  afterAll(async () => {
    await g[Symbol.asyncDispose]();
    await scripted.stop(true);
  });
  const stream = (model: string) => fetch(`${g.gw.base()}/compat/chat/completions`, post({ model, messages: [{ role: "user", content: "hello" }], stream: true }));

  test("a final message_stop cut off from its blank line by the end still counts: the client gets the whole answer, the log says success", async () => {
    const res = await stream("anthropic/unterminated-stop");
    const { text, ended } = await readAll(res);

    const chunks = events(text).filter((e) => e.data.startsWith('{"id"')).map((e) => JSON.parse(e.data) as Chunk);
    expect({ ended, reply: chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), finish: chunks.at(-1)!.choices[0].finish_reason, done: text.endsWith("data: [DONE]\n\n") }).toEqual({ ended: "clean", reply: FAULT_REPLY, finish: "stop", done: true });
    expect(await g.log(res)).toMatchObject({ provider: "anthropic", status_code: 200, success: true, error_code: null, error_message: null });
  });

  test("anthropic: an error event and then a clean end reaches the client as an error event; the log says 2114 and why", async () => {
    const res = await stream("anthropic/error-event");
    const { text, ended } = await readAll(res);

    expect({ ended, last: events(text).at(-1) }).toEqual({ ended: "clean", last: { event: "error", data: expect.stringContaining("Overloaded") } });
    expect(await g.log(res)).toMatchObject({ provider: "anthropic", status_code: 200, success: false, error_code: ErrorCode.StreamBroken, error_message: "the provider's stream broke: anthropic's stream sent an error event" });
  });

  test("gemini: a chunk holding an error and then a clean end reaches the client as an error payload; the log says 2114 and why", async () => {
    const res = await stream("google/gemini-error");
    const { text, ended } = await readAll(res);

    expect({ ended, told: events(text).some((e) => e.data.startsWith('{"error"') && e.data.includes("Internal error")) }).toEqual({ ended: "clean", told: true });
    expect(await g.log(res)).toMatchObject({ provider: "google-ai-studio", status_code: 200, success: false, error_code: ErrorCode.StreamBroken, error_message: "the provider's stream broke: google-ai-studio's stream sent an error event" });
  });
});
