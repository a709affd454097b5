import type { Analytics, AnalyticsCounters, AnalyticsGroup, AnalyticsQuery } from "./types.ts";
import { DurationCounts, sortedPercentiles } from "./percentiles.ts";

/** A range's or a bucket's counters before percentiles. */
export type Sums = Omit<AnalyticsCounters, "p50_ms" | "p95_ms" | "p99_ms">;
/** A group's counters before rounding. */
export type GroupSums = Omit<AnalyticsGroup, "key">;

export const SUM_FIELDS = ["requests", "errors", "cached", "tokens_in", "tokens_out", "cost"] as const;
export const GROUP_FIELDS = ["requests", "errors", "tokens_in", "tokens_out", "cost"] as const;

export const emptySums = (): Sums => ({ requests: 0, errors: 0, cached: 0, tokens_in: 0, tokens_out: 0, cost: 0 });

/** USD as the API shows it; `+ 0`: a difference (a null group's cost) may round to -0. */
export const roundUsd = (usd: number): number => Math.round(usd * 1e10) / 1e10 + 0;

/**
 * Builds the analytics API's `result` bucket by bucket, the same way for every log store: each bucket's
 * counters and exact percentiles, the totals, and the totals' percentiles over every duration.
 *
 * @example
 * const series = new AnalyticsSeries(query);
 * for (const bucket of buckets) series.add(bucket.start, bucket.sums, bucket.durations);
 * return series.result(groups);
 */
export class AnalyticsSeries {
  readonly totals = emptySums();
  readonly #all = new DurationCounts();
  readonly #series: Analytics["series"] = [];

  constructor(private readonly query: AnalyticsQuery) {}

  /** One bucket starting at `start` (epoch ms): its counters and its durations (sorted in place). */
  add(start: number, sums: Sums, durations: Int32Array): void {
    for (let i = 0; i < durations.length; i++) this.#all.add(durations[i]);
    const [p50, p95, p99] = sortedPercentiles(durations);
    for (const field of SUM_FIELDS) this.totals[field] += sums[field];
    this.#series.push({ start: new Date(start).toISOString(), ...sums, cost: roundUsd(sums.cost), p50_ms: p50, p95_ms: p95, p99_ms: p99 });
  }

  result(groups?: AnalyticsGroup[]): Analytics {
    const [p50, p95, p99] = this.#all.percentiles();
    const result: Analytics = {
      start: new Date(this.query.startMs).toISOString(),
      end: new Date(this.query.endMs).toISOString(),
      bucket: this.query.bucket,
      totals: { ...this.totals, cost: roundUsd(this.totals.cost), p50_ms: p50, p95_ms: p95, p99_ms: p99 },
      series: this.#series,
    };
    if (groups) result.groups = groups;
    return result;
  }
}

/** Most requests first, then by key; keys as strings, costs rounded. */
export function sortedGroups(groups: Map<string | number | null, GroupSums>): AnalyticsGroup[] {
  return [...groups]
    .map(([key, g]) => ({ key: key === null ? null : String(key), ...g, cost: roundUsd(g.cost) }))
    .sort((a, b) => b.requests - a.requests || String(a.key).localeCompare(String(b.key)));
}
