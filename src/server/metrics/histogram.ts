/** Upper bounds, in seconds, of the latency buckets: LLM answers run from milliseconds (cache hits) to minutes (long streams). */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * A Prometheus histogram of one label set. Counts are kept per bucket (one increment per observation)
 * and made cumulative only when rendered, which happens once per scrape instead of once per request.
 *
 * @example
 * const h = new Histogram(LATENCY_BUCKETS);
 * h.observe(0.2);
 * h.cumulative(); // [0, 0, 0, 0, 0, 1, 1, …] — the last entry is the `+Inf` bucket, equal to `count`
 */
export class Histogram {
  /** One slot per bound, plus the `+Inf` slot. */
  readonly #counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let slot = 0;
    // A linear scan: 15 bounds, most observations land in the first half; cheaper than a binary search here.
    while (slot < bounds.length && value > bounds[slot]) slot++;
    this.#counts[slot]++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative counts per bound, then the `+Inf` bucket. */
  cumulative(): number[] {
    let total = 0;
    return this.#counts.map((n) => (total += n));
  }
}
