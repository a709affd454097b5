import type { Health } from "../../pipeline/types.ts";
import { sweepEvery } from "./sweeper.ts";
import { consoleHealth } from "../../server/health.ts";
import type { CounterDecision, CounterRequest, CounterStore, CounterWindow } from "../counters.ts";

interface Entry {
  windowMs: number;
  /** Window number, `floor(now / windowMs)`. */
  window: number;
  current: number;
  previous: number;
}

/** Options of {@link MemoryCounterStore}. */
export interface MemoryCounterOptions {
  /** How often expired windows are dropped. @default 60000 */
  sweepMs?: number;
  /** Where a failing sweep is reported, as component `"counters"`. @default `consoleHealth()` */
  health?: Health;
}

/**
 * The default counter store: a Map in this process. Atomic by construction — JavaScript runs one
 * callback at a time and `take` never awaits between checking and charging. Limits hold per process;
 * several replicas need a shared store.
 */
export class MemoryCounterStore implements CounterStore {
  readonly #entries = new Map<string, Entry>();
  readonly #timer: Timer;

  constructor(options: MemoryCounterOptions = {}) {
    this.#timer = sweepEvery(options.sweepMs ?? 60_000, options.health ?? consoleHealth(), "counters", "dropping expired counters", () => this.sweep());
  }

  /** Counters held, expired ones included until the next sweep. */
  get size(): number {
    return this.#entries.size;
  }

  // Not `async`-bodied on purpose: check and charge must run in one synchronous stretch.
  take(requests: readonly CounterRequest[], now = Date.now()): Promise<CounterDecision> {
    const entries = requests.map((r) => this.#current(r.key, r.windowMs, now));
    const seen = requests.map((r, i) => measure(entries[i], r, now));
    const allowed = seen.every((w) => w.allowed);
    if (allowed) {
      requests.forEach((r, i) => {
        if (r.cost === 0) return;
        entries[i].current += r.cost;
        this.#entries.set(r.key, entries[i]);
        seen[i].count += r.cost;
        seen[i].remaining = Math.max(0, Math.floor(r.limit - seen[i].count));
      });
    }
    return Promise.resolve({ allowed, windows: seen });
  }

  add(key: string, windowMs: number, amount: number, now = Date.now()): Promise<void> {
    const window = Math.floor(now / windowMs);
    const entry = this.#entries.get(key);
    if (!entry || entry.window < window) {
      if (amount > 0) {
        const rolled = entry ? this.#current(key, windowMs, now) : fresh(windowMs, window);
        rolled.current += amount;
        this.#entries.set(key, rolled);
      }
    } else if (entry.window === window) {
      entry.current = Math.max(0, entry.current + amount);
    } else if (entry.window === window + 1) {
      entry.previous = Math.max(0, entry.previous + amount);
    }
    return Promise.resolve();
  }

  /** Drops every counter whose windows no longer count, not even as a sliding window's previous one. */
  sweep(now = Date.now()): void {
    for (const [key, entry] of this.#entries) {
      if (entry.window < Math.floor(now / entry.windowMs) - 1) this.#entries.delete(key);
    }
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    this.#entries.clear();
    return Promise.resolve();
  }

  /** The entry rolled forward to the window of `now`; a new one is not stored until it is charged. */
  #current(key: string, windowMs: number, now: number): Entry {
    const window = Math.floor(now / windowMs);
    const entry = this.#entries.get(key);
    if (!entry || entry.windowMs !== windowMs) return fresh(windowMs, window);
    if (entry.window !== window) {
      entry.previous = entry.window === window - 1 ? entry.current : 0;
      entry.current = 0;
      entry.window = window;
    }
    return entry;
  }
}

function fresh(windowMs: number, window: number): Entry {
  return { windowMs, window, current: 0, previous: 0 };
}

function measure(entry: Entry, r: CounterRequest, now: number): CounterWindow {
  const elapsed = now - entry.window * r.windowMs;
  const previous = r.sliding ? entry.previous * (1 - elapsed / r.windowMs) : 0;
  const count = previous + entry.current;
  const need = Math.max(r.cost, 1);
  const allowed = count + need <= r.limit;
  return {
    allowed,
    count,
    remaining: Math.max(0, Math.floor(r.limit - count)),
    resetMs: allowed ? r.windowMs - elapsed : waitMs(entry, r, need, elapsed),
  };
}

/** How long until `need` fits: the current window ends (fixed), or the previous one has faded enough (sliding). */
function waitMs(entry: Entry, r: CounterRequest, need: number, elapsed: number): number {
  const toEnd = r.windowMs - elapsed;
  const room = r.limit - need;
  if (!r.sliding || room < 0) return toEnd;
  if (entry.current <= room) {
    // previous * (1 - f) + current <= room, solved for the elapsed fraction f of this window.
    const fraction = 1 - (room - entry.current) / entry.previous;
    return Math.max(0, Math.ceil(fraction * r.windowMs - elapsed));
  }
  // Only in the next window, once this window's count (then the previous one) has faded enough.
  return Math.ceil(toEnd + (1 - room / entry.current) * r.windowMs);
}
