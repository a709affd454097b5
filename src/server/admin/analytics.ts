import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import { BUCKET_MS, MAX_BUCKETS } from "../../store/sqlite/log-analytics.ts";
import type { Analytics, AnalyticsBucket, AnalyticsQuery, LogStore } from "../../store/types.ts";
import { ok, type V4Success } from "./v4.ts";

const bad = (message: string) => new GatewayError(400, ErrorCode.BadRequest, message);

const DAY_MS = 86_400_000;
/** The same characters the metadata plugin and rate-limit keys accept as a metadata key. */
const METADATA_KEY = /^[A-Za-z0-9_-]{1,64}$/;

function date(params: URLSearchParams, name: string, fallback: number): number {
  const value = params.get(name);
  if (value === null || value === "") return fallback;
  // ISO 8601 dates only: Date.parse also accepts "1" or "March 7", which no client means.
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw bad(`${name} must be an ISO 8601 date such as 2026-01-31T00:00:00Z`);
  return ms;
}

/** ≤ 2 h → minutes, ≤ 3 days → hours, else days: enough points to draw, few enough to read. */
function defaultBucket(rangeMs: number): AnalyticsBucket {
  if (rangeMs <= 2 * 3_600_000) return "minute";
  if (rangeMs <= 3 * DAY_MS) return "hour";
  return "day";
}

/**
 * Reads `start_date` (inclusive, default: 24 h before `end_date`), `end_date` (exclusive, default
 * now), `bucket` and `group_by`. Throws a 400 naming the parameter when one is unusable.
 */
export function parseAnalyticsQuery(params: URLSearchParams, now = Date.now()): AnalyticsQuery {
  const endMs = date(params, "end_date", now);
  const startMs = date(params, "start_date", endMs - DAY_MS);
  if (endMs <= startMs) throw bad("end_date must be later than start_date");
  const bucketParam = params.get("bucket");
  let bucket: AnalyticsBucket;
  if (bucketParam === null || bucketParam === "") bucket = defaultBucket(endMs - startMs);
  else if (bucketParam === "minute" || bucketParam === "hour" || bucketParam === "day") bucket = bucketParam;
  else throw bad('bucket must be "minute", "hour" or "day"');
  const buckets = Math.ceil(endMs / BUCKET_MS[bucket]) - Math.floor(startMs / BUCKET_MS[bucket]);
  if (buckets > MAX_BUCKETS) throw bad(`bucket "${bucket}" makes ${buckets} buckets over this range; at most ${MAX_BUCKETS}: pick a larger bucket or a shorter range`);
  const groupBy = params.get("group_by");
  const query: AnalyticsQuery = { startMs, endMs, bucket };
  if (groupBy === null || groupBy === "") return query;
  if (groupBy === "provider" || groupBy === "model") return { ...query, groupBy };
  if (groupBy.startsWith("metadata.") && METADATA_KEY.test(groupBy.slice("metadata.".length))) return { ...query, groupBy: groupBy as `metadata.${string}` };
  throw bad('group_by must be "provider", "model" or "metadata.<key>" (key: letters, digits, "_" or "-", up to 64)');
}

/** The analytics part of the admin API: `GET gateways/{id}/analytics`. */
export function analyticsRoutes(store: LogStore) {
  return {
    async get(gatewayId: string, params: URLSearchParams): Promise<V4Success<Analytics>> {
      return ok(await store.analytics(gatewayId, parseAnalyticsQuery(params)));
    },
  };
}
