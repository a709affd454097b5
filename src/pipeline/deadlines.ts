/**
 * Time limits on the request path (a plugin's own time, a slow request body, the provider's first
 * byte) without a timer per request: one shared sweep checks every registered deadline a few times
 * a second. A limit is met within one sweep of its deadline, which is plenty for limits measured in
 * seconds and costs a Set insert and delete per request instead of two timer calls.
 */

/** Something with a time limit. `check` runs on every sweep and decides for itself. */
export interface Watched {
  /** Called with `performance.now()`; return true once done (expired or no longer watched), to be dropped. */
  check(now: number): boolean;
}

const SWEEP_MS = 25;
const watched = new Set<Watched>();
let timer: ReturnType<typeof setInterval> | null = null;

function sweep(): void {
  const now = performance.now();
  for (const entry of watched) {
    try {
      if (entry.check(now)) watched.delete(entry);
    } catch {
      // A check that throws must not stop the others; it is dropped.
      watched.delete(entry);
    }
  }
  if (watched.size === 0 && timer) {
    clearInterval(timer);
    timer = null;
  }
}

/** Starts watching `entry` until its `check` returns true or `unwatch` is called. */
export function watch(entry: Watched): void {
  watched.add(entry);
  if (!timer) {
    timer = setInterval(sweep, SWEEP_MS);
    timer.unref();
  }
}

export function unwatch(entry: Watched): void {
  watched.delete(entry);
}

/**
 * The time limits of one request's plugin layers, kept by one object per request (a clock per layer
 * measured ~8 µs a request). Control is in one layer at a time: `enter(i)` hands it to layer `i`
 * (-1: nobody, e.g. while the upstream call runs), and only that layer's time runs. `onExpire`
 * runs once, from the sweep, with the index of the layer that spent its limit.
 */
export class LayerClock implements Watched {
  readonly #spent: Float64Array;
  #active = -1;
  #since = 0;
  /** The layer that ran out of time, or -1. */
  expired = -1;

  constructor(
    private readonly limits: readonly number[],
    private readonly onExpire: (layer: number) => void,
  ) {
    this.#spent = new Float64Array(limits.length);
    watch(this);
  }

  /** Control passes to layer `index` (or to nobody, -1); the layer that had it keeps the time it spent. */
  enter(index: number): void {
    const now = performance.now();
    if (this.#active >= 0) this.#spent[this.#active] += now - this.#since;
    this.#active = index;
    this.#since = now;
  }

  check(now: number): boolean {
    if (this.expired >= 0) return true;
    const layer = this.#active;
    if (layer < 0 || this.limits[layer] <= 0 || this.#spent[layer] + (now - this.#since) < this.limits[layer]) return false;
    this.expired = layer;
    this.onExpire(layer);
    return true;
  }

  stop(): void {
    unwatch(this);
  }
}
