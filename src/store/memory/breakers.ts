import { breakerKey, type BreakerPermit, type BreakerSettings, type BreakerState, type BreakerStatus, type BreakerStore, type BreakerTarget } from "../breakers.ts";

interface Entry {
  target: BreakerTarget;
  /** "half-open" only while a probe is out. */
  state: BreakerState;
  /** Closed: times of the failures still inside the window, oldest first (at most `settings.failures`). */
  recent: number[];
  /** Failures since the breaker last closed. */
  count: number;
  windowMs: number;
  cooldownMs: number;
  openedAt: number | null;
  /** Open: end of the cooldown. Half-open: when a probe that never reported is given up. */
  retryAt: number | null;
}

/** Options of {@link MemoryBreakerStore}. */
export interface MemoryBreakerOptions {
  /**
   * Targets tracked at once. Models come from requests, so a client could otherwise grow the map
   * without bound; past it, closed breakers whose failures aged out go first, then the oldest entry.
   * @default 10000
   */
  maxTargets?: number;
}

/**
 * The default breaker store: a Map in this process, so each replica learns on its own. Only targets
 * that failed are held; a closed breaker whose failures left the window is dropped on its next success.
 */
export class MemoryBreakerStore implements BreakerStore {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;

  constructor(options: MemoryBreakerOptions = {}) {
    this.#max = Math.max(1, options.maxTargets ?? 10_000);
  }

  /** Targets held. */
  get size(): number {
    return this.#entries.size;
  }

  allow(target: BreakerTarget, _settings: BreakerSettings, now: number): Promise<BreakerPermit> {
    const entry = this.#entries.get(breakerKey(target));
    if (!entry || entry.state === "closed") return Promise.resolve({ allowed: true, probe: false });
    if (now < entry.retryAt!) return Promise.resolve({ allowed: false, retryAt: entry.retryAt! });
    // The cooldown is over (or the last probe never reported): this call is the one probe.
    entry.state = "half-open";
    entry.retryAt = now + entry.cooldownMs;
    return Promise.resolve({ allowed: true, probe: true });
  }

  success(target: BreakerTarget, now: number): Promise<void> {
    const key = breakerKey(target);
    const entry = this.#entries.get(key);
    if (entry?.state === "half-open") this.#entries.delete(key);
    else if (entry?.state === "closed" && prune(entry, now).length === 0) this.#entries.delete(key);
    return Promise.resolve();
  }

  failure(target: BreakerTarget, settings: BreakerSettings, now: number): Promise<void> {
    const key = breakerKey(target);
    let entry = this.#entries.get(key);
    if (!entry) {
      this.#makeRoom(now);
      entry = { target, state: "closed", recent: [], count: 0, windowMs: settings.windowMs, cooldownMs: settings.cooldownMs, openedAt: null, retryAt: null };
      this.#entries.set(key, entry);
    }
    entry.windowMs = settings.windowMs;
    entry.cooldownMs = settings.cooldownMs;
    if (entry.state === "closed") {
      const recent = prune(entry, now);
      recent.push(now);
      if (recent.length > settings.failures) recent.splice(0, recent.length - settings.failures);
      entry.count = recent.length;
      if (recent.length >= settings.failures) open(entry, now);
    } else {
      entry.count++;
      // A failed probe reopens for another cooldown; failures of calls let through before it opened change nothing.
      if (entry.state === "half-open") open(entry, now);
    }
    return Promise.resolve();
  }

  release(target: BreakerTarget, now: number): Promise<void> {
    const entry = this.#entries.get(breakerKey(target));
    if (entry?.state === "half-open") entry.retryAt = now;
    return Promise.resolve();
  }

  list(gatewayId: string, now: number): Promise<BreakerStatus[]> {
    const statuses: BreakerStatus[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.target.gatewayId !== gatewayId) continue;
      if (entry.state === "closed") {
        const failures = prune(entry, now).length;
        if (failures > 0) statuses.push({ target: { ...entry.target }, state: "closed", failures, openedAt: null, retryAt: null });
        continue;
      }
      // An open breaker past its cooldown lets the next call probe: that is half-open.
      const state = entry.state === "open" && now >= entry.retryAt! ? "half-open" : entry.state;
      statuses.push({ target: { ...entry.target }, state, failures: entry.count, openedAt: entry.openedAt, retryAt: entry.retryAt });
    }
    return Promise.resolve(statuses);
  }

  close(): Promise<void> {
    this.#entries.clear();
    return Promise.resolve();
  }

  #makeRoom(now: number): void {
    if (this.#entries.size < this.#max) return;
    for (const [key, entry] of this.#entries) {
      if (entry.state === "closed" && prune(entry, now).length === 0) this.#entries.delete(key);
    }
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }
}

/** Drops the failures that left the window; returns what is left. */
function prune(entry: Entry, now: number): number[] {
  const since = now - entry.windowMs;
  let drop = 0;
  while (drop < entry.recent.length && entry.recent[drop] <= since) drop++;
  if (drop > 0) entry.recent.splice(0, drop);
  entry.count = entry.recent.length;
  return entry.recent;
}

function open(entry: Entry, now: number): void {
  entry.state = "open";
  entry.recent = [];
  entry.openedAt = now;
  entry.retryAt = now + entry.cooldownMs;
}
