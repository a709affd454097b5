import { costOf, parseCustomCost, priceFor } from "../providers/prices.ts";
import { redactHeaders } from "../upstream/headers.ts";
import type { RequestContext } from "./context.ts";
import { ErrorCode } from "./errors.ts";
import type { Outcome } from "./deliver.ts";
import type { RequestRecord, Usage } from "./record.ts";

const decoder = new TextDecoder();

/** Builds the request record from the context and the delivery outcome. Runs off the request path. */
export function buildRecord(ctx: RequestContext, outcome: Outcome): RequestRecord {
  const step = ctx.step;
  const usage = outcome.usage;
  if (!outcome.sse && outcome.captured && (outcome.headers.get("content-type") ?? "").includes("json")) {
    readJsonUsage(ctx, outcome.captured, usage);
  }
  const cached = ctx.cacheStatus === "HIT";
  const { cost, custom } = cached ? { cost: 0, custom: false } : priceRequest(ctx, usage);
  // No plugin asked for the bodies when one answered before the logging layer could ask (a cache hit,
  // a 401, a 429): the record then keeps what the gateway holds anyway, and the logging plugin caps it.
  const capture = ctx.captureBytes > 0 ? ctx.captureBytes : Infinity;
  const requestBody = step.body ? head(step.body, capture) : null;
  const responseBody = outcome.captured ? head(outcome.captured, capture) : null;
  const aborted = outcome.aborted || ctx.abortReason !== null;
  // 101: a realtime relay session (its record is built when the session ends).
  const answered = outcome.status === 101 || (outcome.status >= 200 && outcome.status < 400);
  const success = answered && !outcome.streamError && !ctx.gatewayError && !aborted;
  return {
    logId: ctx.logId,
    eventId: ctx.eventId,
    gatewayId: ctx.gatewayId,
    accountId: ctx.accountId,
    createdAt: ctx.createdAt,
    requestType: ctx.requestType,
    provider: ctx.provider,
    model: ctx.model ?? usage.model ?? null,
    path: step.endpoint,
    method: step.method,
    step: ctx.stepIndex,
    status: outcome.status,
    success,
    cached,
    durationMs: performance.now() - ctx.startedAt,
    ttfbMs: ctx.ttfbMs,
    usage,
    cost,
    customCost: custom,
    metadata: ctx.metadata,
    userAgent: ctx.headers.get("user-agent"),
    tokenId: ctx.tokenId,
    error: recordError(ctx, outcome),
    aborted,
    attempts: ctx.attempts,
    request: {
      // Heads are kept with payloads only; redacting them for a record nobody stores is wasted work.
      headers: ctx.collectPayload ? redactHeaders(ctx.headers) : {},
      contentType: ctx.headers.get("content-type"),
      size: step.body?.byteLength ?? 0,
      body: requestBody,
      truncated: !!step.body && step.body.byteLength > capture,
    },
    response: {
      headers: ctx.collectPayload ? redactHeaders(outcome.headers) : {},
      contentType: outcome.headers.get("content-type"),
      size: outcome.size,
      body: responseBody,
      truncated: outcome.truncated || (!!outcome.captured && outcome.captured.byteLength > capture),
    },
    collectLog: ctx.collectLog,
    collectPayload: ctx.collectPayload,
  };
}

/** The gateway's own error if it answered, else why the delivery did not complete; null when it did. */
function recordError(ctx: RequestContext, outcome: Outcome): { code: number; message: string } | null {
  if (ctx.gatewayError) return ctx.gatewayError;
  if (ctx.abortReason === "shutdown") return { code: ErrorCode.ShuttingDown, message: "ended by shutdown: server.drainTimeout passed while the answer was being delivered" };
  if (outcome.aborted || ctx.abortReason === "client") return { code: ErrorCode.ClientClosed, message: "the client closed the connection before the answer was complete" };
  if (outcome.streamError) return { code: ErrorCode.StreamBroken, message: `the provider's stream broke: ${outcome.streamError}` };
  return null;
}

function readJsonUsage(ctx: RequestContext, body: Uint8Array, usage: Usage): void {
  try {
    ctx.step.provider.usage.json(JSON.parse(decoder.decode(body)), usage);
  } catch {
    // Not JSON after all, or cut short: the record simply has no usage.
  }
}

function priceRequest(ctx: RequestContext, usage: Usage): { cost: number | null; custom: boolean } {
  const header = ctx.option("cf-aig-custom-cost");
  if (header) {
    try {
      return { cost: costOf(usage, parseCustomCost(header)), custom: true };
    } catch {
      // An unusable custom cost falls back to the price table rather than losing the request.
    }
  }
  const model = ctx.model ?? usage.model ?? null;
  const price = model ? priceFor(ctx.provider, model, ctx.gateway.prices) : null;
  return { cost: price ? costOf(usage, price) : null, custom: false };
}

/** The first `bytes` of `body`: the view itself when it is no longer (a new view measured ~0.5 µs a call under load). */
export function head(body: Uint8Array, bytes: number): Uint8Array {
  return body.byteLength <= bytes ? body : body.subarray(0, bytes);
}
