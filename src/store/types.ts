import type { Metadata, RequestRecord } from "../pipeline/record.ts";

/** One condition of the logs API `filters` array (Cloudflare's shape). */
export interface LogFilter {
  key: string;
  operator: "eq" | "neq" | "contains" | "lt" | "gt";
  value: (string | number | boolean | null)[];
}

export interface LogQuery {
  page: number;
  perPage: number;
  orderBy: string;
  direction: "asc" | "desc";
  filters: LogFilter[];
  search?: string;
}

/** A stored log as the logs API returns it (Cloudflare's field names, plus Switchboard's extras). */
export interface LogRow {
  id: string;
  created_at: string;
  gateway_id: string;
  provider: string;
  model: string | null;
  path: string;
  method: string;
  status_code: number;
  success: boolean;
  cached: boolean;
  step: number;
  duration: number;
  time_to_first_byte: number | null;
  tokens_in: number | null;
  tokens_out: number | null;
  cached_tokens_in: number;
  cache_write_tokens_in: number;
  cost: number | null;
  custom_cost: boolean;
  /** JSON string, as Cloudflare's API returns it. */
  metadata: string | null;
  event_id: string;
  request_type: string;
  request_content_type: string | null;
  response_content_type: string | null;
  request_size: number;
  response_size: number;
  user_agent: string | null;
  token_id: string | null;
  feedback: number | null;
  score: number | null;
  error_code: number | null;
  error_message: string | null;
  aborted: boolean;
}

/** `GET logs/{id}` adds the heads and the attempts. */
export interface LogDetail extends LogRow {
  request_head: string;
  request_head_complete: boolean;
  response_head: string;
  response_head_complete: boolean;
  /** The captured request body was cut at `logs.maxPayloadBytes`. */
  request_body_truncated: boolean;
  /** The captured response body was cut at `logs.maxPayloadBytes`. */
  response_body_truncated: boolean;
  attempts: RequestRecord["attempts"];
}

/** Human feedback on one log. `null` clears a field; `metadata` is merged into the log's metadata. */
export interface LogPatch {
  feedback?: -1 | 0 | 1 | null;
  score?: number | null;
  metadata?: Metadata | null;
}

/** Narrows a `delete`: the first `limit` matches in this order. */
export interface LogDeleteOptions {
  limit?: number;
  orderBy?: string;
  direction?: "asc" | "desc";
}

/** Width of one `series` entry of the analytics API. */
export type AnalyticsBucket = "minute" | "hour" | "day";

/** What `LogStore.analytics` aggregates: logs with `startMs <= created_at < endMs`. */
export interface AnalyticsQuery {
  startMs: number;
  endMs: number;
  bucket: AnalyticsBucket;
  /** `"provider"`, `"model"` or `"metadata.<key>"`; no `groups` without it. */
  groupBy?: "provider" | "model" | `metadata.${string}`;
}

/** Request counters of a range. `cost` counts cache hits at 0; percentiles of `duration` are null without requests. */
export interface AnalyticsCounters {
  requests: number;
  /** Logs with `success: false`. */
  errors: number;
  /** Cache hits. */
  cached: number;
  tokens_in: number;
  tokens_out: number;
  /** USD. */
  cost: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
}

/** One `groups` entry; `key` is null for logs without the grouped value (no model, no such metadata key). */
export interface AnalyticsGroup {
  key: string | null;
  requests: number;
  errors: number;
  tokens_in: number;
  tokens_out: number;
  cost: number;
}

/** The analytics API's `result`. */
export interface Analytics {
  start: string;
  end: string;
  bucket: AnalyticsBucket;
  totals: AnalyticsCounters;
  /** Every bucket of the range, empty ones included, oldest first; `start` is the bucket's UTC start. */
  series: (AnalyticsCounters & { start: string })[];
  /** By `groupBy`, most requests first. */
  groups?: AnalyticsGroup[];
}

export interface RetentionPolicy {
  maxRows?: number;
  maxAgeDays?: number;
}

/**
 * Where request records go. `append` never blocks the request path: records are queued and written
 * in batches, one transaction each, off the request thread. `flush` resolves once everything
 * appended before it is committed (called on shutdown), or held for another try when the storage
 * refuses writes (disk full): a store never loses records to a passing fault, and never waits on one. Reads flush first, so they see every record
 * appended before them; updates and deletes apply after everything appended before them.
 */
export interface LogStore {
  append(record: RequestRecord): void;
  flush(): Promise<void>;
  list(gatewayId: string, query: LogQuery): Promise<{ rows: LogRow[]; total: number }>;
  get(gatewayId: string, id: string): Promise<LogDetail | null>;
  /** The captured body of one side; null when the log does not exist, `body: null` when it was not captured. */
  payload(gatewayId: string, id: string, side: "request" | "response"): Promise<{ contentType: string | null; body: Uint8Array | null } | null>;
  patch(gatewayId: string, id: string, patch: LogPatch): Promise<boolean>;
  /** Deletes the logs matching the filters (all of the gateway's when none); returns how many. */
  delete(gatewayId: string, filters: LogFilter[], options?: LogDeleteOptions): Promise<number>;
  /** Applies retention for one gateway: oldest rows first. Returns how many were deleted. */
  prune(gatewayId: string, policy: RetentionPolicy): Promise<number>;
  /** Totals, a time series and optional groups of the gateway's logs in a time range (the analytics API). */
  analytics(gatewayId: string, query: AnalyticsQuery): Promise<Analytics>;
  close(): Promise<void>;
}
