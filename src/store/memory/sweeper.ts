import type { Health } from "../../pipeline/types.ts";

/**
 * Runs `sweep` every `ms` on a timer that never keeps the process alive; a failing sweep is reported
 * to `health` as `component` (and its recovery too), never thrown. Returns the timer to clear on close.
 *
 * @example this.#timer = sweepEvery(60_000, health, "counters", "dropping expired counters", () => this.sweep());
 */
export function sweepEvery(ms: number, health: Health, component: string, during: string, sweep: () => void): Timer {
  const timer = setInterval(() => {
    try {
      sweep();
      health.recovered(component);
    } catch (error) {
      health.fault(component, error, { during });
    }
  }, ms);
  timer.unref();
  return timer;
}
