/**
 * Exact nearest-rank percentiles of durations (whole ms) for the analytics of both log stores: the
 * smallest duration with at least p% of the logs at or under it. The stores read durations into typed
 * arrays (nothing sorts strings or objects in JS) and use these.
 */

export type Percentiles = [p50: number | null, p95: number | null, p99: number | null];

const RANKS = [0.5, 0.95, 0.99] as const;

/** Durations up to this many ms are counted in an array slot each; longer ones are kept and sorted. */
const HISTOGRAM_MS = 65_536;

/** Percentiles of the whole range: one counting array (one slot per ms up to ~65 s), the rare longer durations sorted apart. */
export class DurationCounts {
  private readonly slots = new Uint32Array(HISTOGRAM_MS);
  private readonly long: number[] = [];
  count = 0;

  add(ms: number): void {
    this.count++;
    if (ms < HISTOGRAM_MS) this.slots[ms < 0 ? 0 : ms]++;
    else this.long.push(ms);
  }

  percentiles(): Percentiles {
    if (this.count === 0) return [null, null, null];
    const ranks = RANKS.map((p) => Math.max(1, Math.ceil(p * this.count)));
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

/** Percentiles of one bucket's durations; sorts `durations` in place. */
export function sortedPercentiles(durations: Int32Array): Percentiles {
  if (durations.length === 0) return [null, null, null];
  durations.sort();
  const at = (p: number) => durations[Math.max(1, Math.ceil(p * durations.length)) - 1];
  return [at(RANKS[0]), at(RANKS[1]), at(RANKS[2])];
}
