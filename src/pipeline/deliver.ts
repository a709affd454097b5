import type { UsageReader } from "../providers/types.ts";
import { connectionFailure } from "../upstream/attempt.ts";
import { toClientHeaders } from "../upstream/headers.ts";
import { SseParser } from "../upstream/sse.ts";
import { redactUrls } from "./redact.ts";
import type { AbortReason, RequestContext } from "./context.ts";
import { unwatch as unwatchDeadline, watch as watchDeadline } from "./deadlines.ts";
import { envelope, ErrorCode, GatewayError } from "./errors.ts";
import { emptyUsage, type Usage } from "./record.ts";
import { head } from "./build-record.ts";

/** How the answer went, as far as the gateway could see it on the wire. */
export interface Outcome {
  status: number;
  headers: Headers;
  /** Bytes delivered to the client. */
  size: number;
  /** The first bytes of the body (for logs, cache and usage of non-streaming answers). */
  captured: Uint8Array | null;
  truncated: boolean;
  /** Usage read from SSE events as they passed; JSON answers are read later from `captured`. */
  usage: Usage;
  sse: boolean;
  /** The client went away before the end. */
  aborted: boolean;
  /** The provider's stream broke before its end. */
  streamError: string | null;
}

/**
 * A provider's CORS headers never reach the client: the gateway injects held keys, so a provider that
 * allows any origin (`access-control-allow-origin: *`) must not open the gateway to every web page.
 * CORS is closed: the gateway sends none of these itself either.
 */
const CORS_HEADERS = [
  "access-control-allow-origin",
  "access-control-allow-credentials",
  "access-control-allow-headers",
  "access-control-allow-methods",
  "access-control-allow-private-network",
  "access-control-expose-headers",
  "access-control-max-age",
];

/** Small answers of known length are read whole: one write to the client, and the body is at hand for usage. */
const BUFFER_LIMIT = 1024 * 1024;
/** How much of a non-streaming JSON answer is kept to read usage from. */
const JSON_USAGE_LIMIT = 8 * 1024 * 1024;

/**
 * Turns the chain's Response into the one the client gets: provider headers minus hop-by-hop ones,
 * plus `cf-aig-*`; the body flows through chunk by chunk (never buffered when it streams) while
 * its size, the first bytes and SSE usage are observed. `done` is called exactly once, when the
 * body ended, broke, or the client left.
 */
export async function deliver(ctx: RequestContext, response: Response, done: (outcome: Outcome) => void): Promise<Response> {
  ctx.ttfbMs ??= performance.now() - ctx.startedAt;
  ctx.responding = true;
  const length = Number(response.headers.get("content-length") ?? NaN);
  const encoded = response.headers.has("content-encoding");
  const headers = toClientHeaders(response.headers);
  for (const name of CORS_HEADERS) headers.delete(name);
  headers.set("cf-aig-log-id", ctx.logId);
  headers.set("cf-aig-event-id", ctx.eventId);
  headers.set("cf-aig-step", String(ctx.stepIndex));
  headers.set("cf-aig-cache-status", ctx.cacheStatus);
  const added = ctx.addedResponseHeaders;
  if (added) addHeaders(headers, added);
  const init = { status: response.status, statusText: response.statusText, headers };
  const contentType = headers.get("content-type") ?? "";
  const sse = contentType.includes("text/event-stream");
  const outcome: Outcome = { status: response.status, headers, size: 0, captured: null, truncated: false, usage: emptyUsage(), sse, aborted: false, streamError: null };
  const body = response.body;
  if (!body) {
    outcome.aborted = ctx.clientLeft;
    done(outcome);
    return new Response(null, init);
  }
  const captureLimit = Math.max(ctx.captureBytes, !sse && contentType.includes("json") ? JSON_USAGE_LIMIT : 0);
  if (!sse && !encoded && length <= BUFFER_LIMIT) {
    const bytes = await readWhole(ctx, response);
    outcome.size = bytes.byteLength;
    outcome.captured = captureLimit > 0 ? head(bytes, captureLimit) : null;
    outcome.truncated = captureLimit > 0 && bytes.byteLength > captureLimit;
    // A client that left before its whole answer was ready was not there to take it (see RequestContext.followClient).
    outcome.aborted = ctx.clientLeft;
    done(outcome);
    return new Response(bytes, init);
  }
  const watch = { usage: sse ? ctx.step.provider.usage : null, idleMs: ctx.gateway.streamIdleTimeout, endedBy: () => ctx.abortReason, judgeEnd: () => endJudges.get(ctx)?.() ?? null };
  return new Response(observe(body, outcome, captureLimit, watch, done), init);
}

/**
 * The headers plugins added (RateLimit-*, …) over the provider's. Through toJSON, not the iterator: it is
 * built natively, about a third of the cost; set-cookie, the one name it gives as a list, is appended.
 */
function addHeaders(headers: Headers, added: Headers): void {
  const all = added.toJSON() as Record<string, string | string[]>;
  for (const name in all) {
    const value = all[name];
    if (typeof value === "string") headers.set(name, value);
    else {
      headers.delete(name);
      for (const one of value) headers.append(name, one);
    }
  }
}

/**
 * Reads a small answer whole. A provider that breaks off inside it (a reset, or a close before its
 * Content-Length) is a 502/2110 — the client has received nothing yet — not a gateway failure.
 */
async function readWhole(ctx: RequestContext, response: Response): Promise<Uint8Array> {
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (cause) {
    // The request was ended (the client left, or shutdown): the pipeline records that instead.
    if (ctx.abortReason) throw cause;
    const message = `${ctx.provider}'s answer broke before it was read: ${connectionFailure(cause)}`;
    const attempt = ctx.attempts.at(-1);
    if (attempt) attempt.error = message;
    throw new GatewayError(502, ErrorCode.UpstreamUnreachable, message, { cause });
  }
}

/** What `observe` watches besides the bytes: SSE usage, and how long the stream may stay silent. */
interface StreamWatch {
  usage: UsageReader | null;
  idleMs: number;
  /** Why the request was ended, if it was: a stream cut by shutdown says so (2113), not that the provider broke it. */
  endedBy(): AbortReason | null;
  /** At the provider's clean end: why the answer is not whole after all (see `judgeStreamEnd`), or null. */
  judgeEnd(): string | null;
}

/** The end judges of requests whose delivered stream is read by a translator (compat); most requests have none. */
const endJudges = new WeakMap<RequestContext, () => string | null>();

/**
 * For a transport that reads the delivered stream itself and knows more than the wire does (the compat
 * endpoint translating Anthropic: its stream is whole only with `message_stop`). When the provider's
 * stream ends cleanly, `judge` is called once, synchronously, before the request's record is built —
 * the transport pulls the stream, so it has read every earlier chunk — and a reason it returns becomes
 * the record's stream error (`success: false`, 2114). The client's stream still ends cleanly: telling
 * the client is the transport's part. Register it before the stream ends (right after delivery).
 *
 * @example judgeStreamEnd(ctx, () => (sawMessageStop ? null : "anthropic's stream ended before its final event (message_stop)"));
 */
export function judgeStreamEnd(ctx: RequestContext, judge: () => string | null): void {
  endJudges.set(ctx, judge);
}

const encoder = new TextEncoder();
/** How long the SSE error event gets to reach the socket before the stream is ended with an error. */
const ERROR_EVENT_FLUSH_MS = 10;

/*
 * The client's stream is ended with `controller.error()` and no reason on purpose: Bun prints any
 * reason given (message, stack and source line) to stderr for every broken stream, while the record
 * already says what happened.
 */

/**
 * The last words of an SSE stream that broke: an `event: error` whose data is an AiGatewayError
 * envelope, so SDKs raise it (the OpenAI and Anthropic SDKs throw on `event: error`) before the
 * connection ends with an error.
 */
function errorEvent(reason: string, endedBy: AbortReason | null): Uint8Array {
  const body =
    endedBy === "shutdown"
      ? envelope(503, ErrorCode.ShuttingDown, "The gateway is stopping and server.drainTimeout passed while the answer was streaming")
      : envelope(502, ErrorCode.StreamBroken, `The provider's stream broke after the first byte: ${reason}`);
  return encoder.encode(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
}

function observe(body: ReadableStream<Uint8Array>, outcome: Outcome, captureLimit: number, options: StreamWatch, done: (outcome: Outcome) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const capture = new Capture(captureLimit);
  const { usage, idleMs } = options;
  // A client may stop reading once the stream's last event arrived (the OpenAI SDK cancels after
  // `[DONE]`): it received the whole answer, so that is not an abort.
  let ended = false;
  const sse = usage
    ? new SseParser((event, data) => {
        if (data === "[DONE]" || event === "message_stop") ended = true;
        else readUsage(usage, outcome.usage, event, data);
      })
    : null;
  let finished = false;
  let lastChunkAt = performance.now();
  let idleCut = false;
  /** Set once an SSE error event was queued: the next pull ends the stream with an error. */
  let failed = false;
  const idle = {
    check(now: number) {
      if (finished) return true;
      if (now - lastChunkAt < idleMs) return false;
      idleCut = true;
      reader.cancel(new Error("stream idle")).catch(() => {});
      return true;
    },
  };
  watchDeadline(idle);
  const finish = () => {
    if (finished) return;
    finished = true;
    unwatchDeadline(idle);
    sse?.end();
    outcome.captured = capture.bytes();
    outcome.truncated = capture.truncated;
    done(outcome);
  };
  /** The provider's stream broke: the record says why, and the client sees an error, never a clean end. */
  const broke = (controller: ReadableStreamDefaultController<Uint8Array>, reason: string) => {
    // Bun's fetch errors end with advice for the caller ("pass `verbose: true` …"): not the client's business.
    outcome.streamError = redactUrls(reason.replace(/\s*For more information, pass `verbose: true`.*$/s, ""));
    finish();
    if (!sse) return controller.error();
    failed = true;
    controller.enqueue(errorEvent(outcome.streamError, options.endedBy()));
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (failed) {
          // Erroring in the same turn would drop the error event Bun has not written yet; one timer turn lets it out.
          await new Promise((resolve) => setTimeout(resolve, ERROR_EVENT_FLUSH_MS));
          return controller.error();
        }
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (finished) return;
          broke(controller, idleCut ? `idle for more than ${idleMs} ms (streamIdleTimeout)` : error instanceof Error ? error.message : String(error));
          return;
        }
        // The client left while the provider's next chunk was on its way: nothing more to deliver.
        if (finished) return;
        if (chunk.done) {
          if (idleCut) return broke(controller, `idle for more than ${idleMs} ms (streamIdleTimeout)`);
          outcome.streamError = options.judgeEnd();
          controller.close();
          finish();
          return;
        }
        lastChunkAt = performance.now();
        outcome.size += chunk.value.byteLength;
        capture.add(chunk.value);
        sse?.feed(chunk.value);
        controller.enqueue(chunk.value);
      },
      cancel(reason) {
        outcome.aborted = !ended;
        finish();
        reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}

function readUsage(reader: UsageReader, usage: Usage, event: string | null, data: string): void {
  // Only events that can carry usage are parsed; content deltas pass untouched.
  if (!data.includes("sage")) return;
  try {
    reader.event(JSON.parse(data), usage, event);
  } catch {
    // A provider's malformed event must never break the client's stream.
  }
}

/** Keeps the first `limit` bytes of a stream. */
class Capture {
  #chunks: Uint8Array[] = [];
  #size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}

  add(chunk: Uint8Array): void {
    if (this.limit === 0) return;
    const room = this.limit - this.#size;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const part = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
    if (part !== chunk) this.truncated = true;
    // Copy: the stream may reuse the chunk's memory after we hand it on.
    this.#chunks.push(part.slice());
    this.#size += part.byteLength;
  }

  bytes(): Uint8Array | null {
    if (this.limit === 0) return null;
    if (this.#chunks.length === 1) return this.#chunks[0];
    const out = new Uint8Array(this.#size);
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }
}
