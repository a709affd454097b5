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
 * A deadline that can be paused (a plugin's clock stops while it waits in `next()`).
 * `onExpire` runs once, from the sweep, when the running time reaches `limitMs`.
 *
 * @example
 * const clock = new Stopwatch(5000, () => reject(new Error("too slow")));
 * clock.pause(); await next(); clock.resume();
 * clock.stop();
 */
export class Stopwatch implements Watched {
  #spent = 0;
  #since: number | null;
  #done = false;

  constructor(
    private readonly limitMs: number,
    private readonly onExpire: () => void,
  ) {
    this.#since = performance.now();
    watch(this);
  }

  check(now: number): boolean {
    if (this.#done) return true;
    if (this.#since === null || this.#spent + (now - this.#since) < this.limitMs) return false;
    this.#done = true;
    this.onExpire();
    return true;
  }

  pause(): void {
    if (this.#since === null || this.#done) return;
    this.#spent += performance.now() - this.#since;
    this.#since = null;
  }

  resume(): void {
    if (this.#since === null && !this.#done) this.#since = performance.now();
  }

  /** True once it expired or was stopped. */
  get done(): boolean {
    return this.#done;
  }

  stop(): void {
    this.#done = true;
    unwatch(this);
  }
}
