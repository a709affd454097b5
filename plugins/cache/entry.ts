import type { CacheEntry, RequestContext, RequestRecord } from "switchboard";

/**
 * Provider headers that are not replayed: connection-level ones, those describing an encoding or
 * length the gateway recomputes, the time of the original answer, and cookies (meant for one client).
 * `cf-aig-*` headers are dropped too: the gateway writes fresh ones on every answer.
 */
const NOT_REPLAYED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "content-encoding",
  "content-length",
  "trailer",
  "upgrade",
  "te",
  "date",
  "set-cookie",
]);

/** The provider's headers worth keeping with a cached answer. */
export function replayableHeaders(headers: Headers): [string, string][] {
  const out: [string, string][] = [];
  // toJSON, not the iterator: built natively, about a third of the cost. Only set-cookie comes back as
  // an array, and it is never replayed.
  const all = headers.toJSON() as Record<string, string>;
  for (const name in all) {
    if (!NOT_REPLAYED.has(name) && !name.startsWith("cf-aig-")) out.push([name, all[name]]);
  }
  return out;
}

/** What `handle` saw of a miss it wants to store, kept until the record says how delivery went. */
export interface PendingWrite {
  key: string;
  ttlSeconds: number;
  status: number;
  headers: [string, string][];
  step: number;
  /** Epoch ms when the provider's answer arrived; the TTL counts from here. */
  receivedAt: number;
}

/** The last event of a finished stream: OpenAI-style `data: [DONE]`, Anthropic's `message_stop`. */
const STREAM_END = [/(^|\n)data: ?\[DONE\]\s*$/, /(^|\n)event: ?message_stop\r?\ndata: ?[^\n]*\s*$/];
const decoder = new TextDecoder();

/**
 * True when an event stream ends with its provider's final event. The official `openai` client
 * (v7) stops reading at `data: [DONE]` and cancels the body before the end of the connection, so
 * the record says aborted although the client received the whole answer.
 */
export function streamFinished(body: Uint8Array): boolean {
  const tail = decoder.decode(body.subarray(Math.max(0, body.byteLength - 512)));
  return STREAM_END.some((end) => end.test(tail));
}

/**
 * The entry to store for a completed miss, or null when the answer must not be cached: not 2xx, not
 * the answer `handle` saw (a plugin further out replaced it), cut at the size limit, or not received
 * whole — abandoned by the client or broken mid-stream, unless the stream had already sent its final event.
 */
export function entryFromRecord(record: RequestRecord, pending: PendingWrite): CacheEntry | null {
  if (record.status < 200 || record.status > 299 || record.status !== pending.status) return null;
  const body = record.response.body ?? new Uint8Array(0);
  if (record.response.truncated) return null;
  const sse = (record.response.contentType ?? "").includes("text/event-stream");
  if ((record.aborted || record.error) && !(sse && streamFinished(body))) return null;
  return {
    status: pending.status,
    headers: pending.headers,
    body,
    step: pending.step,
    createdAt: pending.receivedAt,
    expiresAt: pending.receivedAt + pending.ttlSeconds * 1000,
  };
}

/**
 * Answers from the cache: marks the request a HIT (the record then says cached, cost 0) and replays
 * the stored status, headers and bytes — an SSE answer comes back as the same event stream.
 */
export function replay(ctx: RequestContext, entry: CacheEntry): Response {
  ctx.cacheStatus = "HIT";
  if (entry.step < ctx.steps.length) ctx.stepIndex = entry.step;
  const headers = new Headers(entry.headers);
  // A known length lets delivery send the body in one write instead of streaming it.
  headers.set("content-length", String(entry.body.byteLength));
  return new Response(entry.body, { status: entry.status, headers });
}
