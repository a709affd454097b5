/** How many recent times to first byte each target keeps. */
const WINDOW = 32;

/**
 * Recent time to first byte per route target (`provider/model`), in process, for the `latency`
 * strategy. Each target keeps its last 32 samples; `p50` is their median. A failed attempt counts as
 * the time it took (a timeout counts its full length), so a target that keeps failing sinks.
 */
export class LatencyTracker {
  readonly #samples = new Map<string, number[]>();

  record(target: string, ms: number): void {
    let list = this.#samples.get(target);
    if (!list) this.#samples.set(target, (list = []));
    list.push(ms);
    if (list.length > WINDOW) list.shift();
  }

  /** The median of the target's recent samples; null before its first. */
  p50(target: string): number | null {
    const list = this.#samples.get(target);
    if (!list || list.length === 0) return null;
    const sorted = [...list].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  }
}
