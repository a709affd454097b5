import type { Health } from "../../pipeline/types.ts";
import { sweepEvery } from "./sweeper.ts";
import { consoleHealth } from "../../server/health.ts";
import type { SpendCharge, SpendDecision, SpendRequest, SpendStatus, SpendStore, SpendWindow } from "../spend.ts";

interface Entry {
  windowMs: number;
  sliding: boolean;
  /** Window number, `floor(now / windowMs)`. */
  window: number;
  current: number;
  previous: number;
  reserved: number;
}

/** Options of {@link MemorySpendStore}. */
export interface MemorySpendOptions {
  /** How often expired buckets are dropped. @default 60000 */
  sweepMs?: number;
  /** Where a failing sweep is reported, as component `"spend"`. @default `consoleHealth()` */
  health?: Health;
}

/**
 * The default spend store: a Map in this process. Atomic by construction — JavaScript runs one callback
 * at a time and neither `reserve` nor `settle` awaits in the middle. Budgets hold per process; several
 * replicas need a shared store.
 */
export class MemorySpendStore implements SpendStore {
  readonly #entries = new Map<string, Entry>();
  readonly #timer: Timer;

  constructor(options: MemorySpendOptions = {}) {
    this.#timer = sweepEvery(options.sweepMs ?? 60_000, options.health ?? consoleHealth(), "spend", "dropping expired spend windows", () => this.sweep());
  }

  /** Buckets held, expired ones included until the next sweep. */
  get size(): number {
    return this.#entries.size;
  }

  // Not `async`-bodied on purpose: check and reserve must run in one synchronous stretch.
  reserve(requests: readonly SpendRequest[], now = Date.now()): Promise<SpendDecision> {
    const entries = requests.map((r) => this.#current(r.key, r.windowMs, r.sliding, now));
    const windows = requests.map((r, i) => measure(entries[i], r.limit, now));
    const allowed = windows.every((w) => w.allowed);
    if (allowed) {
      requests.forEach((r, i) => {
        entries[i].reserved += r.reserve;
        this.#entries.set(r.key, entries[i]);
      });
    }
    return Promise.resolve({ allowed, windows });
  }

  settle(charges: readonly SpendCharge[], now = Date.now()): Promise<void> {
    for (const c of charges) {
      const entry = this.#entries.get(c.key);
      if (!entry) {
        // Swept or never held (a reservation keeps its entry, so only a zero one can be gone).
        if (c.cost > 0) this.#entries.set(c.key, { ...fresh(c.windowMs, false, now), current: c.cost });
        continue;
      }
      const rolled = this.#current(c.key, entry.windowMs, entry.sliding, now);
      rolled.reserved = Math.max(0, rolled.reserved - c.reserved);
      rolled.current += Math.max(0, c.cost);
    }
    return Promise.resolve();
  }

  list(prefix: string, now = Date.now()): Promise<SpendStatus[]> {
    const out: SpendStatus[] = [];
    for (const [key, stored] of this.#entries) {
      if (!key.startsWith(prefix)) continue;
      const entry = this.#current(key, stored.windowMs, stored.sliding, now);
      const seen = measure(entry, Infinity, now);
      if (entry.current === 0 && entry.reserved === 0 && seen.spent === 0) continue;
      out.push({
        key,
        windowMs: entry.windowMs,
        sliding: entry.sliding,
        spent: seen.spent,
        reserved: entry.reserved,
        windowStart: seen.windowStart,
        resetsAt: seen.windowStart + entry.windowMs,
      });
    }
    return Promise.resolve(out.sort((a, b) => (a.key < b.key ? -1 : 1)));
  }

  /** Drops every bucket that holds no reservation and whose windows no longer count. */
  sweep(now = Date.now()): void {
    for (const [key, entry] of this.#entries) {
      if (entry.reserved === 0 && entry.window < Math.floor(now / entry.windowMs) - 1) this.#entries.delete(key);
    }
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    this.#entries.clear();
    return Promise.resolve();
  }

  /** The entry rolled forward to the window of `now`; a new one is not stored until it holds something. */
  #current(key: string, windowMs: number, sliding: boolean, now: number): Entry {
    const window = Math.floor(now / windowMs);
    const entry = this.#entries.get(key);
    if (!entry || entry.windowMs !== windowMs) return { ...fresh(windowMs, sliding, now), reserved: entry?.reserved ?? 0 };
    entry.sliding = sliding;
    // Only forward: a caller with a clock behind the entry's (another replica, a test clock) must not wipe it.
    if (entry.window < window) {
      entry.previous = entry.window === window - 1 ? entry.current : 0;
      entry.current = 0;
      entry.window = window;
    }
    return entry;
  }
}

function fresh(windowMs: number, sliding: boolean, now: number): Entry {
  return { windowMs, sliding, window: Math.floor(now / windowMs), current: 0, previous: 0, reserved: 0 };
}

function measure(entry: Entry, limit: number, now: number): SpendWindow {
  const windowStart = entry.window * entry.windowMs;
  const elapsed = now - windowStart;
  const toEnd = entry.windowMs - elapsed;
  const previous = entry.sliding ? entry.previous * (1 - elapsed / entry.windowMs) : 0;
  const spent = previous + entry.current;
  const allowed = spent + entry.reserved < limit;
  return { allowed, spent, reserved: entry.reserved, windowStart, resetMs: allowed ? toEnd : waitMs(entry, limit, elapsed, toEnd) };
}

/** How long until the settled spend is below `limit`: the window's end (fixed), or the previous window faded enough (sliding). */
function waitMs(entry: Entry, limit: number, elapsed: number, toEnd: number): number {
  if (!entry.sliding) return toEnd;
  if (entry.current < limit && entry.previous > 0) {
    // previous * (1 - f) + current < limit, solved for the elapsed fraction f of this window.
    const fraction = 1 - (limit - entry.current) / entry.previous;
    return Math.max(1, Math.ceil(fraction * entry.windowMs - elapsed) + 1);
  }
  // Only in the next window, once this window's spend (then the previous one) has faded enough.
  return Math.ceil(toEnd + Math.max(0, 1 - limit / entry.current) * entry.windowMs) + 1;
}
