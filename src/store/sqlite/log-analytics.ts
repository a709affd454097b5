import type { Database, SQLQueryBindings } from "bun:sqlite";
import type { Analytics, AnalyticsBucket, AnalyticsCounters, AnalyticsGroup, AnalyticsQuery } from "../types.ts";
import { dimensionGroups, metadataGroups, type GroupSums } from "./log-metadata-groups.ts";

export const BUCKET_MS: Record<AnalyticsBucket, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** Most `series` entries one query may ask for (a day of minutes, five years of days). */
export const MAX_BUCKETS = 2000;

// Every column these read is in the `logs_analytics` covering index: the range is one index scan, no table rows.
const RANGE = "gateway_id = ? AND created_at >= ? AND created_at < ?";
const SUMS = `COUNT(*) AS requests, COALESCE(SUM(success = 0), 0) AS errors, COALESCE(SUM(tokens_in), 0) AS tokens_in,
  COALESCE(SUM(tokens_out), 0) AS tokens_out, TOTAL(CASE WHEN cached = 1 THEN 0 ELSE cost END) AS cost`;
const BUCKET_SQL = `SELECT ${SUMS}, COALESCE(SUM(cached), 0) AS cached FROM logs WHERE ${RANGE}`;
const DURATIONS_SQL = `SELECT duration FROM logs WHERE ${RANGE}`;

type Sums = Omit<AnalyticsCounters, "p50_ms" | "p95_ms" | "p99_ms">;

/** Durations up to this many ms are counted in an array slot each; longer ones are kept and sorted. */
const HISTOGRAM_MS = 65_536;

/**
 * Exact nearest-rank percentiles of durations (ms): the smallest duration with at least p% of the
 * logs at or under it. Durations are whole ms, so a counting array (one slot per ms up to ~65 s)
 * answers in one pass; the rare longer ones are sorted apart.
 */
class DurationCounts {
  private readonly slots = new Uint32Array(HISTOGRAM_MS);
  private readonly long: number[] = [];
  count = 0;

  add(ms: number): void {
    this.count++;
    if (ms < HISTOGRAM_MS) this.slots[ms < 0 ? 0 : ms]++;
    else this.long.push(ms);
  }

  /** `[p50, p95, p99]`, nulls without durations. */
  percentiles(): [number | null, number | null, number | null] {
    if (this.count === 0) return [null, null, null];
    const ranks = [0.5, 0.95, 0.99].map((p) => Math.max(1, Math.ceil(p * this.count)));
    const found: number[] = [];
    let seen = 0;
    for (let ms = 0; ms < HISTOGRAM_MS && found.length < ranks.length; ms++) {
      seen += this.slots[ms];
      while (found.length < ranks.length && seen >= ranks[found.length]) found.push(ms);
    }
    if (found.length < ranks.length) {
      this.long.sort((a, b) => a - b);
      const below = this.count - this.long.length;
      while (found.length < ranks.length) found.push(this.long[ranks[found.length] - below - 1]);
    }
    return [found[0], found[1], found[2]];
  }
}

/** Nearest-rank percentiles of one bucket: small, so a sorted typed array is cheaper than 64K slots. */
function bucketPercentiles(durations: Int32Array): [number | null, number | null, number | null] {
  if (durations.length === 0) return [null, null, null];
  durations.sort();
  const at = (p: number) => durations[Math.max(1, Math.ceil(p * durations.length)) - 1];
  return [at(0.5), at(0.95), at(0.99)];
}

// `+ 0`: a null group's cost is a difference, which may round to -0.
const round = (usd: number) => Math.round(usd * 1e10) / 1e10 + 0;

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
  const all = new DurationCounts();
  const totals: Sums = { requests: 0, errors: 0, cached: 0, tokens_in: 0, tokens_out: 0, cost: 0 };
  const series: Analytics["series"] = [];
  const metadataKey = query.groupBy?.startsWith("metadata.") ? query.groupBy.slice("metadata.".length) : null;
  for (let bucketStart = Math.floor(query.startMs / size) * size; bucketStart < query.endMs; bucketStart += size) {
    const from = Math.max(bucketStart, query.startMs);
    const to = Math.min(bucketStart + size, query.endMs);
    const row = sums.get(gatewayId, from, to)!;
    let p: [number | null, number | null, number | null] = [null, null, null];
    if (row.requests > 0) {
      const rows = durationsOf.values(gatewayId, from, to);
      const durations = new Int32Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const ms = rows[i][0] as number;
        durations[i] = ms;
        all.add(ms);
      }
      p = bucketPercentiles(durations);
    }
    for (const key of ["requests", "errors", "cached", "tokens_in", "tokens_out", "cost"] as const) totals[key] += row[key];
    series.push({ start: new Date(bucketStart).toISOString(), ...row, cost: round(row.cost), p50_ms: p[0], p95_ms: p[1], p99_ms: p[2] });
  }
  const [p50, p95, p99] = all.percentiles();
  const result: Analytics = {
    start: new Date(query.startMs).toISOString(),
    end: new Date(query.endMs).toISOString(),
    bucket: query.bucket,
    totals: { ...totals, cost: round(totals.cost), p50_ms: p50, p95_ms: p95, p99_ms: p99 },
    series,
  };
  if (query.groupBy === "provider" || query.groupBy === "model") {
    result.groups = withNullGroup(dimensionGroups(db, gatewayId, query.groupBy, query.startMs, query.endMs), totals);
  }
  if (metadataKey !== null) result.groups = withNullGroup(metadataGroups(db, gatewayId, metadataKey, query.startMs, query.endMs), totals);
  return result;
}

/** The groups plus, for the logs without the key (no such metadata, no model), a `null` group: what the totals leave. */
function withNullGroup(groups: Map<string | number | null, GroupSums>, totals: Sums): AnalyticsGroup[] {
  const rest: GroupSums = { requests: totals.requests, errors: totals.errors, tokens_in: totals.tokens_in, tokens_out: totals.tokens_out, cost: totals.cost };
  for (const group of groups.values()) for (const field of ["requests", "errors", "tokens_in", "tokens_out", "cost"] as const) rest[field] -= group[field];
  if (rest.requests > 0) groups.set(null, rest);
  return sortedGroups(groups);
}

/** Most requests first, then by key; keys as strings, costs rounded. */
function sortedGroups(groups: Map<string | number | null, GroupSums>): AnalyticsGroup[] {
  return [...groups]
    .map(([key, g]) => ({ key: key === null ? null : String(key), ...g, cost: round(g.cost) }))
    .sort((a, b) => b.requests - a.requests || String(a.key).localeCompare(String(b.key)));
}
