/**
 * Issue 22, faults on the WebSocket API (`universal.create` frames). Each request's answer is one
 * `universal.created`, or `universal.created` + `universal.stream`… + `universal.done`, or ends in
 * one `universal.error` carrying the AiGatewayError envelope with a stable code — a broken body or
 * stream never ends in `universal.done`, and a malformed SSE stream is relayed event by event as the
 * provider sent it. The socket stays open and serves the next request; every request leaves a log
 * with `request_type: websocket` saying how it went.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { envelopeOf, ULID } from "../support/gateway-error.ts";
import { FAULT_NAMES, FAULT_REPLY, FAULT_USAGE, jsonAnswer, streamEvents, type FaultName } from "../support/fault-upstream.ts";
import { CASE_TIMEOUT_MS, chatBody, faultGateway, type FaultGateway } from "../support/fault-matrix.ts";
import { openSocket, wsUrl, type Frame, type FrameSocket } from "../support/ws-client.ts";

/** How a request that met a fault ends on the socket. */
type WsOutcome =
  | { frames: "created"; response: unknown }
  | { frames: "stream"; events: unknown[]; end: "done" | { reason: RegExp } }
  | { frames: "error"; status: number; code: number };

/** The provider's events as `universal.stream` frames carry them ([DONE] is not forwarded). */
const EVENTS = streamEvents("openai")
  .slice(0, -1)
  .map((event) => JSON.parse(event.slice("data: ".length)) as unknown);
const broke = /broke after the first byte/;

const OUTCOMES: Record<FaultName, WsOutcome> = {
  ok: { frames: "created", response: JSON.parse(jsonAnswer("openai")) },
  "ok-stream": { frames: "stream", events: EVENTS, end: "done" },
  "reset-before-headers": { frames: "error", status: 502, code: ErrorCode.UpstreamUnreachable },
  "silent-before-headers": { frames: "error", status: 504, code: ErrorCode.UpstreamTimeout },
  "reset-mid-body": { frames: "error", status: 502, code: ErrorCode.UpstreamUnreachable },
  "reset-mid-chunked-body": { frames: "error", status: 502, code: ErrorCode.StreamBroken },
  "reset-mid-stream": { frames: "stream", events: EVENTS.slice(0, 2), end: { reason: broke } },
  "silent-mid-stream": { frames: "stream", events: EVENTS.slice(0, 2), end: { reason: /streamIdleTimeout/ } },
  // Garbage is relayed as the provider sent it: data that is not JSON as a string; lines that are no field, comments and empty data are not events.
  "garbage-sse": { frames: "stream", events: [EVENTS[0], EVENTS[1], "{not json at all", ...EVENTS.slice(2)], end: "done" },
  "split-sse": { frames: "stream", events: EVENTS, end: "done" },
  "no-done": { frames: "stream", events: EVENTS, end: "done" },
  "truncated-body": { frames: "error", status: 502, code: ErrorCode.UpstreamUnreachable },
  "truncated-large-body": { frames: "error", status: 502, code: ErrorCode.StreamBroken },
  "truncated-stream": { frames: "stream", events: EVENTS.slice(0, 4), end: { reason: broke } },
};

/** The frames `outcome` is made of, for request `eventId`. */
function expectedFrames(eventId: string, outcome: WsOutcome): Frame[] {
  const metadata = (contentType: string) => ({ cacheStatus: "MISS", eventId, logId: expect.stringMatching(ULID), step: "0", contentType });
  const error = (status: number, code: number, reason?: RegExp) => ({
    type: "universal.error",
    metadata: { eventId, logId: expect.stringMatching(ULID) },
    error: { ...envelopeOf(status, code), ...(reason ? { message: expect.stringMatching(reason) } : {}) },
  });
  // Asymmetric matchers stand in for values: a matcher, typed as the frames it matches.
  if (outcome.frames === "created") return [{ type: "universal.created", metadata: metadata("application/json"), response: outcome.response }] as Frame[];
  if (outcome.frames === "error") return [error(outcome.status, outcome.code)] as Frame[];
  const sse = metadata("text/event-stream; charset=utf-8");
  return [
    { type: "universal.created", metadata: sse },
    ...outcome.events.map((response) => ({ type: "universal.stream", metadata: { eventId }, response })),
    outcome.end === "done" ? { type: "universal.done", metadata: sse } : error(502, ErrorCode.StreamBroken, outcome.end.reason),
  ] as Frame[];
}

/** What the log of a request that met `outcome` says. */
function expectedLog(outcome: WsOutcome): Record<string, unknown> {
  if (outcome.frames === "error") {
    return { status_code: outcome.code === ErrorCode.StreamBroken ? 200 : outcome.status, success: false, error_code: outcome.code };
  }
  if (outcome.frames === "stream" && outcome.end !== "done") return { status_code: 200, success: false, error_code: ErrorCode.StreamBroken };
  return { status_code: 200, success: true, error_code: null, tokens_in: FAULT_USAGE.prompt_tokens, tokens_out: FAULT_USAGE.completion_tokens };
}

const request = (eventId: string, fault: FaultName) => ({ eventId, provider: "openai", endpoint: "chat/completions", headers: { authorization: "Bearer sk-client" }, query: chatBody(fault) });
const logIdOf = (frames: Frame[]) => frames.at(-1)!.metadata.logId as string;

let f: FaultGateway;
let socket: FrameSocket;
beforeAll(async () => {
  f = await faultGateway();
  socket = await openSocket("ws", wsUrl(f.gw.base()));
});
afterAll(async () => {
  await socket[Symbol.asyncDispose]();
  await f[Symbol.asyncDispose]();
});

describe("one WebSocket, each upstream fault in turn", () => {
  test.each(FAULT_NAMES)(
    "%s: the request ends as it should, its log says so, and the socket serves the next request",
    async (fault) => {
      const outcome = OUTCOMES[fault];

      socket.create(request(fault, fault));
      const frames = await socket.result(fault);

      expect(frames).toEqual(expectedFrames(fault, outcome));
      expect(new Set(frames.map((frame) => frame.metadata.logId).filter(Boolean)).size).toBe(1);
      expect(await f.log(logIdOf(frames))).toMatchObject({ ...expectedLog(outcome), request_type: "websocket", event_id: fault });

      socket.create(request(`${fault}-next`, "ok"));
      expect(await socket.result(`${fault}-next`)).toEqual(expectedFrames(`${fault}-next`, OUTCOMES.ok));
      await f.expectIdle();
    },
    CASE_TIMEOUT_MS,
  );

  test("a stream split at odd places arrives whole: the deltas spell the reply, characters intact", async () => {
    socket.create(request("split-text", "split-sse"));
    const frames = await socket.result("split-text");

    const deltas = frames
      .filter((frame) => frame.type === "universal.stream")
      .map((frame) => (frame.response as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "");
    expect(deltas.join("")).toBe(FAULT_REPLY);
  });
});

describe("every fault at once on one socket", () => {
  test(
    "each request gets its own ending, none holds back another, the socket stays open",
    async () => {
      await using s = await openSocket("ws", wsUrl(f.gw.base()));
      const started = performance.now();

      for (const fault of FAULT_NAMES) s.create(request(`all-${fault}`, fault));
      const results = await Promise.all(FAULT_NAMES.map((fault) => s.result(`all-${fault}`)));

      expect(results).toEqual(FAULT_NAMES.map((fault) => expectedFrames(`all-${fault}`, OUTCOMES[fault])));
      // The two silent faults run side by side: the whole batch takes about one limit, not two.
      expect(performance.now() - started).toBeLessThan(2_000);
      s.create(request("all-after", "ok"));
      expect(await s.result("all-after")).toEqual(expectedFrames("all-after", OUTCOMES.ok));
      await f.expectIdle();
    },
    CASE_TIMEOUT_MS,
  );
});
