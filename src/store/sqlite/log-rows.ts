import type { SQLQueryBindings } from "bun:sqlite";
import type { RequestRecord } from "../../pipeline/record.ts";
import type { LogDetail, LogRow } from "../types.ts";

/**
 * The logs schema and the mapping between a `RequestRecord`, the SQLite row and the API's `LogRow`.
 * `logs` stays lean (what lists, filters and aggregates read); heads and bodies live in
 * `log_payloads_by_rowid`, one row per log at most, keyed by its log's rowid and removed with it by a
 * trigger (migration 3). The view `log_payloads` shows them by log id, as the table did before.
 */
export const LOG_MIGRATIONS: readonly string[] = [
  `CREATE TABLE logs (
    id TEXT PRIMARY KEY,
    gateway_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    provider TEXT NOT NULL,
    model TEXT,
    path TEXT NOT NULL,
    method TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    success INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    step INTEGER NOT NULL,
    duration INTEGER NOT NULL,
    time_to_first_byte INTEGER,
    tokens_in INTEGER,
    tokens_out INTEGER,
    cached_tokens_in INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens_in INTEGER NOT NULL DEFAULT 0,
    cost REAL,
    custom_cost INTEGER NOT NULL DEFAULT 0,
    metadata TEXT,
    event_id TEXT NOT NULL,
    request_type TEXT NOT NULL,
    request_content_type TEXT,
    response_content_type TEXT,
    request_size INTEGER NOT NULL DEFAULT 0,
    response_size INTEGER NOT NULL DEFAULT 0,
    user_agent TEXT,
    token_id TEXT,
    feedback INTEGER,
    score INTEGER,
    error_code INTEGER,
    error_message TEXT,
    aborted INTEGER NOT NULL DEFAULT 0,
    attempts TEXT NOT NULL DEFAULT '[]'
  );
  CREATE INDEX logs_gateway_created ON logs (gateway_id, created_at);
  CREATE INDEX logs_gateway_provider_created ON logs (gateway_id, provider, created_at);
  CREATE INDEX logs_gateway_model ON logs (gateway_id, model);
  CREATE INDEX logs_event ON logs (event_id);
  CREATE TABLE log_payloads (
    id TEXT PRIMARY KEY,
    request_head TEXT NOT NULL,
    response_head TEXT NOT NULL,
    request_body BLOB,
    response_body BLOB,
    request_truncated INTEGER NOT NULL DEFAULT 0,
    response_truncated INTEGER NOT NULL DEFAULT 0
  );
  CREATE TRIGGER logs_delete_payload AFTER DELETE ON logs BEGIN
    DELETE FROM log_payloads WHERE id = old.id;
  END;`,
  // The analytics API reads a gateway's time range: this index covers every column it aggregates
  // (log-analytics.ts), so a range is scanned without touching table rows (~2× faster over a million
  // logs). It starts with (gateway_id, created_at), so it also serves the lists, and replaces that index.
  `CREATE INDEX logs_analytics ON logs (gateway_id, created_at, duration, success, cached, tokens_in, tokens_out, cost, provider, model);
  DROP INDEX logs_gateway_created;`,
  // 3: payloads keyed by their log's rowid (INTEGER PRIMARY KEY: the table's own key), not by its TEXT id,
  // which took a second B-tree (an autoindex) and an insert into it per record: 0.6 µs of writer CPU per
  // record less (bench/metadata-writes.ts). Rowids of `logs` are stable: it has no INTEGER PRIMARY KEY,
  // but a table with indexes keeps its rowids through VACUUM. Rows are copied in rowid order (an append);
  // a payload whose log is gone is not copied. `log_payloads` stays, as a view, for readers that join it
  // by log id (the CLI's log reader, people's own SQL).
  `CREATE TABLE log_payloads_by_rowid (
    log_rowid INTEGER PRIMARY KEY,
    request_head TEXT NOT NULL,
    response_head TEXT NOT NULL,
    request_body BLOB,
    response_body BLOB,
    request_truncated INTEGER NOT NULL DEFAULT 0,
    response_truncated INTEGER NOT NULL DEFAULT 0
  );
  INSERT INTO log_payloads_by_rowid
  SELECT logs.rowid, p.request_head, p.response_head, p.request_body, p.response_body, p.request_truncated, p.response_truncated
  FROM logs CROSS JOIN log_payloads AS p ON p.id = logs.id ORDER BY logs.rowid;
  DROP TRIGGER logs_delete_payload;
  DROP TABLE log_payloads;
  CREATE TRIGGER logs_delete_payload AFTER DELETE ON logs BEGIN
    DELETE FROM log_payloads_by_rowid WHERE log_rowid = old.rowid;
  END;
  CREATE VIEW log_payloads AS
  SELECT logs.id, p.request_head, p.response_head, p.request_body, p.response_body, p.request_truncated, p.response_truncated
  FROM log_payloads_by_rowid AS p JOIN logs ON logs.rowid = p.log_rowid;`,
];

/** Columns `insertLogSql` binds, in order. */
const LOG_COLUMNS = [
  "id", "gateway_id", "created_at", "provider", "model", "path", "method", "status_code", "success", "cached", "step",
  "duration", "time_to_first_byte", "tokens_in", "tokens_out", "cached_tokens_in", "cache_write_tokens_in", "cost",
  "custom_cost", "metadata", "event_id", "request_type", "request_content_type", "response_content_type", "request_size",
  "response_size", "user_agent", "token_id", "error_code", "error_message", "aborted", "attempts",
] as const;

/** Where each column `logValues` gives is. */
export const LOG_COLUMN = Object.fromEntries(LOG_COLUMNS.map((column, i) => [column, i])) as { readonly [C in (typeof LOG_COLUMNS)[number]]: number };

/**
 * A record appended twice (same log id: a batch sent again after the writer thread died) changes nothing
 * here (`changes` is 0); the writer then deletes the stored version and inserts again, so the latest
 * version is kept and the delete triggers take the old one out of the rollup and its payload with it.
 * Not `OR REPLACE`: its deletion fires no trigger, so every id of a batch had to be deleted up front,
 * ~0.2 µs per record more than this.
 */
export const INSERT_LOG_SQL = `INSERT INTO logs (${LOG_COLUMNS.join(", ")}) VALUES (${LOG_COLUMNS.map(() => "?").join(", ")}) ON CONFLICT (id) DO NOTHING`;
/** Deletes one log (and, by trigger, its payload and its share of the rollup) before it is written again. */
export const DELETE_LOG_SQL = "DELETE FROM logs WHERE id = ?";
/**
 * The first value is the log's rowid (the `lastInsertRowid` of its `INSERT_LOG_SQL`). `OR REPLACE`: on a
 * table with no other index it is the same one seek, and a payload row left under a reused rowid (by a
 * delete that bypassed the trigger) is overwritten instead of failing the batch.
 */
export const INSERT_PAYLOAD_SQL = `INSERT OR REPLACE INTO log_payloads_by_rowid
  (log_rowid, request_head, response_head, request_body, response_body, request_truncated, response_truncated) VALUES (?, ?, ?, ?, ?, ?, ?)`;

/** The lean columns every listing reads (everything but `attempts`). */
export const ROW_COLUMNS = [...LOG_COLUMNS.filter((c) => c !== "attempts"), "feedback", "score"].map((c) => `logs.${c}`).join(", ");

/** A `logs` row as SQLite hands it back: the API's row, with the time as epoch ms and flags as 0/1. */
export type StoredLog = Omit<LogRow, "created_at" | "success" | "cached" | "custom_cost" | "aborted"> & {
  created_at: number;
  success: number;
  cached: number;
  custom_cost: number;
  aborted: number;
};

/** A `logs` row joined with its payload heads, for `GET logs/{id}`. */
export type StoredLogDetail = StoredLog & {
  attempts: string;
  has_payload: number;
  request_head: string | null;
  response_head: string | null;
  request_truncated: number | null;
  response_truncated: number | null;
};

const int = (flag: boolean) => (flag ? 1 : 0);

const METADATA = LOG_COLUMNS.indexOf("metadata");
const ATTEMPTS = LOG_COLUMNS.indexOf("attempts");
const REQUEST_HEAD = 1;
const RESPONSE_HEAD = 2;

/**
 * Values for `INSERT_LOG_SQL`, with the JSON columns (metadata, attempts) still objects: the log store
 * encodes each record with one `JSON.stringify` on the request thread, instead of one per JSON column
 * and again around the result, and `logParams` finishes them in the writer. An empty metadata object is NULL.
 */
export function logValues(r: RequestRecord): unknown[] {
  return [
    r.logId, r.gatewayId, r.createdAt, r.provider, r.model, r.path, r.method, r.status, int(r.success), int(r.cached), r.step,
    Math.round(r.durationMs), r.ttfbMs === null ? null : Math.round(r.ttfbMs), r.usage.tokensIn, r.usage.tokensOut,
    r.usage.cacheReadTokens, r.usage.cacheWriteTokens, r.cost, int(r.customCost), Object.keys(r.metadata).length > 0 ? r.metadata : null,
    r.eventId, r.requestType, r.request.contentType, r.response.contentType, r.request.size, r.response.size, r.userAgent, r.tokenId,
    r.error?.code ?? null, r.error?.message ?? null, int(r.aborted), r.attempts,
  ];
}

/** `logValues` made bindable (JSON columns as text), in place. */
export function logParams(values: unknown[]): SQLQueryBindings[] {
  if (values[METADATA] !== null) values[METADATA] = JSON.stringify(values[METADATA]);
  values[ATTEMPTS] = JSON.stringify(values[ATTEMPTS]);
  return values as SQLQueryBindings[];
}

/**
 * Values for `INSERT_PAYLOAD_SQL`, the redacted heads still objects (see `logValues`), and the captured (capped)
 * bodies. The first, the log's rowid, is only known once the writer has inserted the log: it sets it then.
 */
export function payloadValues(r: RequestRecord): unknown[] {
  return [null, r.request.headers, r.response.headers, r.request.body, r.response.body, int(r.request.truncated), int(r.response.truncated)];
}

/** `payloadValues` made bindable (heads as JSON text), in place. */
export function payloadParams(values: unknown[]): SQLQueryBindings[] {
  values[REQUEST_HEAD] = JSON.stringify(values[REQUEST_HEAD]);
  values[RESPONSE_HEAD] = JSON.stringify(values[RESPONSE_HEAD]);
  return values as SQLQueryBindings[];
}

/** The API shape of a stored row. */
export function toLogRow(s: StoredLog): LogRow {
  return {
    id: s.id,
    created_at: new Date(s.created_at).toISOString(),
    gateway_id: s.gateway_id,
    provider: s.provider,
    model: s.model,
    path: s.path,
    method: s.method,
    status_code: s.status_code,
    success: s.success === 1,
    cached: s.cached === 1,
    step: s.step,
    duration: s.duration,
    time_to_first_byte: s.time_to_first_byte,
    tokens_in: s.tokens_in,
    tokens_out: s.tokens_out,
    cached_tokens_in: s.cached_tokens_in,
    cache_write_tokens_in: s.cache_write_tokens_in,
    cost: s.cost,
    custom_cost: s.custom_cost === 1,
    metadata: s.metadata,
    event_id: s.event_id,
    request_type: s.request_type,
    request_content_type: s.request_content_type,
    response_content_type: s.response_content_type,
    request_size: s.request_size,
    response_size: s.response_size,
    user_agent: s.user_agent,
    token_id: s.token_id,
    feedback: s.feedback,
    score: s.score,
    error_code: s.error_code,
    error_message: s.error_message,
    aborted: s.aborted === 1,
  };
}

/** The API shape of a stored row with heads. Heads are `"{}"` and not complete when payloads were not collected. */
export function toLogDetail(s: StoredLogDetail): LogDetail {
  const captured = s.has_payload === 1;
  return {
    ...toLogRow(s),
    request_head: s.request_head ?? "{}",
    request_head_complete: captured,
    response_head: s.response_head ?? "{}",
    response_head_complete: captured,
    request_body_truncated: s.request_truncated === 1,
    response_body_truncated: s.response_truncated === 1,
    attempts: JSON.parse(s.attempts) as LogDetail["attempts"],
  };
}
