import type { Metadata, RequestRecord } from "../../pipeline/record.ts";
import type { LogDetail, LogRow } from "../types.ts";

/**
 * The mapping between a `RequestRecord`, the PostgreSQL `logs` / `log_payloads` rows (schema.ts) and the
 * API's `LogRow`. A record is encoded once, when it is appended (`encodeLog`), into the values a batch
 * insert binds column by column (`insertParams`: one array per column, expanded by `unnest`).
 */

/** `logs` columns the writer fills, with the array type `unnest` reads them as. */
const LOG_COLUMNS = [
  ["id", "text"], ["gateway_id", "text"], ["created_at", "int8"], ["provider", "text"], ["model", "text"], ["path", "text"],
  ["method", "text"], ["status_code", "int4"], ["success", "bool"], ["cached", "bool"], ["step", "int4"], ["duration", "int4"],
  ["time_to_first_byte", "int4"], ["tokens_in", "int4"], ["tokens_out", "int4"], ["cached_tokens_in", "int4"],
  ["cache_write_tokens_in", "int4"], ["cost", "float8"], ["custom_cost", "bool"], ["metadata_text", "text"], ["event_id", "text"],
  ["request_type", "text"], ["request_content_type", "text"], ["response_content_type", "text"], ["request_size", "int8"],
  ["response_size", "int8"], ["user_agent", "text"], ["token_id", "text"], ["error_code", "int4"], ["error_message", "text"],
  ["aborted", "bool"], ["attempts", "text"],
] as const;

const PAYLOAD_COLUMNS = [
  ["id", "text"], ["request_head", "text"], ["response_head", "text"], ["request_body", "bytea"], ["response_body", "bytea"],
  ["request_truncated", "bool"], ["response_truncated", "bool"],
] as const;

const unnest = (columns: readonly (readonly [string, string])[], from: number) =>
  `unnest(${columns.map(([, type], i) => `$${from + i}::${type}[]`).join(", ")})`;
const names = (columns: readonly (readonly [string, string])[]) => columns.map(([name]) => name).join(", ");
const replace = (columns: readonly (readonly [string, string])[]) =>
  columns.filter(([name]) => name !== "id").map(([name]) => `${name} = EXCLUDED.${name}`).join(", ");

/**
 * One statement (one round trip, one implicit transaction) writes a batch: the logs, then their
 * payloads (the foreign key is checked at the end of the statement, when both are in). A record written
 * twice (same id: a batch sent again after a deadline, though the first try committed) keeps its latest
 * version, feedback cleared, as SQLite's `INSERT OR REPLACE` does.
 */
export const INSERT_BATCH_SQL = `WITH written AS (
  INSERT INTO logs (${names(LOG_COLUMNS)}) SELECT * FROM ${unnest(LOG_COLUMNS, 1)}
  ON CONFLICT (id) DO UPDATE SET ${replace(LOG_COLUMNS)}, feedback = NULL, score = NULL
  RETURNING 1
)
INSERT INTO log_payloads (${names(PAYLOAD_COLUMNS)}) SELECT * FROM ${unnest(PAYLOAD_COLUMNS, LOG_COLUMNS.length + 1)}
ON CONFLICT (id) DO UPDATE SET ${replace(PAYLOAD_COLUMNS)}`;

/**
 * Longest model name stored, in UTF-8 bytes: the model sits in btree index rows, which PostgreSQL caps
 * at ~2.7 kB, and a client may send any string as a model. Longer names are cut (at a character boundary).
 */
export const MAX_MODEL_BYTES = 512;

/** A record as the writer queues it: its values, ready to bind, and roughly what it holds in memory. */
export interface EncodedLog {
  id: string;
  gatewayId: string;
  log: unknown[];
  payload: unknown[] | null;
  /** Approximate bytes held: strings at 2 bytes a character, plus the bodies. */
  bytes: number;
}

/** PostgreSQL text cannot hold NUL; a JSON string holding one cannot become jsonb. */
function clean(text: string): string;
function clean(text: string | null): string | null;
function clean(text: string | null): string | null {
  return text !== null && text.includes("\0") ? text.replaceAll("\0", "\uFFFD") : text;
}

function cleanMetadata(metadata: Metadata): Metadata {
  const out: Metadata = {};
  for (const [key, value] of Object.entries(metadata)) out[clean(key)] = typeof value === "string" ? clean(value) : value;
  return out;
}

function capBytes(text: string | null, max: number): string | null {
  if (text === null || text.length * 3 <= max) return text;
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= max) return text;
  // Back off continuation bytes (10xxxxxx) so the cut falls between characters.
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}

const round = (ms: number | null) => (ms === null ? null : Math.round(ms));

/**
 * A body the queue may hold: the captured body is often a view of the whole request (up to
 * `server.maxBodyBytes`), cut at `logs.maxPayloadBytes`; holding the view would keep all of it alive.
 */
const own = (body: Uint8Array | null) => (body === null || body.byteLength === body.buffer.byteLength ? body : body.slice());

/**
 * A record's values, encoded at once so the queue holds flat values rather than the record and everything
 * it reaches. Throws, encoding nothing, when JSON cannot represent its metadata or attempts (a BigInt).
 */
export function encodeLog(r: RequestRecord): EncodedLog {
  const hasMetadata = Object.keys(r.metadata).length > 0;
  const metadata = hasMetadata ? JSON.stringify(cleanMetadata(r.metadata)) : null;
  const attempts = JSON.stringify(r.attempts);
  const log: unknown[] = [
    r.logId, r.gatewayId, r.createdAt, clean(r.provider), clean(capBytes(r.model, MAX_MODEL_BYTES)), clean(r.path), clean(r.method),
    r.status, r.success, r.cached, r.step, round(r.durationMs), round(r.ttfbMs), r.usage.tokensIn, r.usage.tokensOut,
    r.usage.cacheReadTokens, r.usage.cacheWriteTokens, r.cost, r.customCost, metadata, clean(r.eventId), r.requestType,
    clean(r.request.contentType), clean(r.response.contentType), r.request.size, r.response.size, clean(r.userAgent), clean(r.tokenId),
    r.error?.code ?? null, clean(r.error?.message ?? null), r.aborted, attempts,
  ];
  let bytes = 256 + 2 * ((metadata?.length ?? 0) + attempts.length + r.path.length + (r.userAgent?.length ?? 0) + (r.model?.length ?? 0));
  let payload: unknown[] | null = null;
  if (r.collectPayload) {
    const requestHead = JSON.stringify(r.request.headers);
    const responseHead = JSON.stringify(r.response.headers);
    payload = [r.logId, requestHead, responseHead, own(r.request.body), own(r.response.body), r.request.truncated, r.response.truncated];
    bytes += 2 * (requestHead.length + responseHead.length) + (r.request.body?.byteLength ?? 0) + (r.response.body?.byteLength ?? 0);
  }
  return { id: r.logId, gatewayId: r.gatewayId, log, payload, bytes };
}

/**
 * The parameters of {@link INSERT_BATCH_SQL} for `batch`: one array per column. A log id that appears
 * twice keeps only its last version (one statement cannot update a row twice).
 */
export function insertParams(batch: readonly EncodedLog[]): unknown[][] {
  const latest = new Map<string, EncodedLog>();
  for (const entry of batch) {
    latest.delete(entry.id);
    latest.set(entry.id, entry);
  }
  const logs = LOG_COLUMNS.map(() => [] as unknown[]);
  const payloads = PAYLOAD_COLUMNS.map(() => [] as unknown[]);
  for (const { log, payload } of latest.values()) {
    for (let i = 0; i < log.length; i++) logs[i].push(log[i]);
    if (payload) for (let i = 0; i < payload.length; i++) payloads[i].push(payload[i]);
  }
  return [...logs, ...payloads];
}

/** Columns every listing reads, as `StoredLog` names them. */
export const ROW_COLUMNS = [
  "id", "gateway_id", "created_at", "provider", "model", "path", "method", "status_code", "success", "cached", "step", "duration",
  "time_to_first_byte", "tokens_in", "tokens_out", "cached_tokens_in", "cache_write_tokens_in", "cost", "custom_cost",
  "metadata_text", "event_id", "request_type", "request_content_type", "response_content_type", "request_size", "response_size",
  "user_agent", "token_id", "feedback", "score", "error_code", "error_message", "aborted",
]
  .map((c) => `logs.${c}`)
  .join(", ");

/** A `logs` row as Bun hands it back: int8 columns arrive as strings. */
export type StoredLog = Omit<LogRow, "created_at" | "metadata" | "request_size" | "response_size"> & {
  created_at: string;
  metadata_text: string | null;
  request_size: string;
  response_size: string;
};

/** A `logs` row joined with its payload heads, for `GET logs/{id}`. */
export type StoredLogDetail = StoredLog & {
  attempts: string;
  has_payload: boolean;
  request_head: string | null;
  response_head: string | null;
  request_truncated: boolean | null;
  response_truncated: boolean | null;
};

/** The API shape of a stored row (the same object the SQLite store answers). */
export function toLogRow(s: StoredLog): LogRow {
  return {
    id: s.id,
    created_at: new Date(Number(s.created_at)).toISOString(),
    gateway_id: s.gateway_id,
    provider: s.provider,
    model: s.model,
    path: s.path,
    method: s.method,
    status_code: s.status_code,
    success: s.success,
    cached: s.cached,
    step: s.step,
    duration: s.duration,
    time_to_first_byte: s.time_to_first_byte,
    tokens_in: s.tokens_in,
    tokens_out: s.tokens_out,
    cached_tokens_in: s.cached_tokens_in,
    cache_write_tokens_in: s.cache_write_tokens_in,
    cost: s.cost,
    custom_cost: s.custom_cost,
    metadata: s.metadata_text,
    event_id: s.event_id,
    request_type: s.request_type,
    request_content_type: s.request_content_type,
    response_content_type: s.response_content_type,
    request_size: Number(s.request_size),
    response_size: Number(s.response_size),
    user_agent: s.user_agent,
    token_id: s.token_id,
    feedback: s.feedback,
    score: s.score,
    error_code: s.error_code,
    error_message: s.error_message,
    aborted: s.aborted,
  };
}

/** The API shape of a stored row with heads. Heads are `"{}"` and not complete when payloads were not collected. */
export function toLogDetail(s: StoredLogDetail): LogDetail {
  return {
    ...toLogRow(s),
    request_head: s.request_head ?? "{}",
    request_head_complete: s.has_payload,
    response_head: s.response_head ?? "{}",
    response_head_complete: s.has_payload,
    request_body_truncated: s.request_truncated === true,
    response_body_truncated: s.response_truncated === true,
    attempts: JSON.parse(s.attempts) as LogDetail["attempts"],
  };
}
