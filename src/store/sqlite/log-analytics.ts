import type { Database, SQLQueryBindings } from "bun:sqlite";
import { AnalyticsSeries, GROUP_FIELDS, sortedGroups, type GroupSums, type Sums } from "../analytics-series.ts";
import type { Analytics, AnalyticsBucket, AnalyticsGroup, AnalyticsQuery } from "../types.ts";
import { dimensionGroups, metadataGroups } from "./log-metadata-groups.ts";

export const BUCKET_MS: Record<AnalyticsBucket, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** Most `series` entries one query may ask for (a day of minutes, five years of days). */
export const MAX_BUCKETS = 2000;

// Every column these read is in the `logs_analytics` covering index: the range is one index scan, no table rows.
const RANGE = "gateway_id = ? AND created_at >= ? AND created_at < ?";
const SUMS = `COUNT(*) AS requests, COALESCE(SUM(success = 0), 0) AS errors, COALESCE(SUM(tokens_in), 0) AS tokens_in,
  COALESCE(SUM(tokens_out), 0) AS tokens_out, TOTAL(CASE WHEN cached = 1 THEN 0 ELSE cost END) AS cost`;
const BUCKET_SQL = `SELECT ${SUMS}, COALESCE(SUM(cached), 0) AS cached FROM logs WHERE ${RANGE}`;
const DURATIONS_SQL = `SELECT duration FROM logs WHERE ${RANGE}`;

/**
 * The analytics of one gateway over `[startMs, endMs)`.
 *
 * Method (measured in bench/analytics.ts, docs/benchmarks.md): the totals and series are one
 * aggregate query per bucket over the `logs_analytics` covering index, not one `GROUP BY bucket`:
 * every bucket is a contiguous index range, so each query is a seek and a scan with no sorter, where
 * `GROUP BY` would sort every row of the range first (about 3× slower over a million rows).
 * Percentiles are exact: each bucket's durations are read (same index) into a typed array and sorted,
 * and the totals' come from a counting array over all of them; nothing sorts strings or objects in JS.
 * Groups — provider, model or a metadata key — come once over the whole range from the hourly rollup
 * (log-metadata.ts, log-metadata-groups.ts), next to the plain bucket queries: whole hours from it, the
 * ragged ends from the logs; the `null` group (no model, no such metadata key) is the range's totals
 * minus the keyed groups. (Before the rollup held provider and model, a `GROUP BY` per hour of logs
 * took ~240 ms over 700,000 rows.) Everything is read in one transaction, so the series, the totals and
 * the groups agree even while the log writer commits.
 */
export function logAnalytics(db: Database, gatewayId: string, query: AnalyticsQuery): Analytics {
  return db.transaction(() => analyticsOf(db, gatewayId, query))();
}

function analyticsOf(db: Database, gatewayId: string, query: AnalyticsQuery): Analytics {
  const size = BUCKET_MS[query.bucket];
  const sums = db.query<Sums, SQLQueryBindings[]>(BUCKET_SQL);
  const durationsOf = db.query<[number], SQLQueryBindings[]>(DURATIONS_SQL);
  const series = new AnalyticsSeries(query);
  for (let bucketStart = Math.floor(query.startMs / size) * size; bucketStart < query.endMs; bucketStart += size) {
    const from = Math.max(bucketStart, query.startMs);
    const to = Math.min(bucketStart + size, query.endMs);
    const row = sums.get(gatewayId, from, to)!;
    const rows = row.requests > 0 ? durationsOf.values(gatewayId, from, to) : [];
    const durations = new Int32Array(rows.length);
    for (let i = 0; i < rows.length; i++) durations[i] = rows[i][0] as number;
    series.add(bucketStart, row, durations);
  }
  const { groupBy } = query;
  if (groupBy === "provider" || groupBy === "model") {
    return series.result(withNullGroup(dimensionGroups(db, gatewayId, groupBy, query.startMs, query.endMs), series.totals));
  }
  if (groupBy?.startsWith("metadata.")) {
    return series.result(withNullGroup(metadataGroups(db, gatewayId, groupBy.slice("metadata.".length), query.startMs, query.endMs), series.totals));
  }
  return series.result();
}

/** The groups plus, for the logs without the key (no such metadata, no model), a `null` group: what the totals leave. */
function withNullGroup(groups: Map<string | number | null, GroupSums>, totals: Sums): AnalyticsGroup[] {
  const rest: GroupSums = { requests: totals.requests, errors: totals.errors, tokens_in: totals.tokens_in, tokens_out: totals.tokens_out, cost: totals.cost };
  for (const group of groups.values()) for (const field of GROUP_FIELDS) rest[field] -= group[field];
  if (rest.requests > 0) groups.set(null, rest);
  return sortedGroups(groups);
}
