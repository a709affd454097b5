/**
 * Circuit breakers, one per target a gateway calls. Every method returns a Promise so a shared store
 * (Redis) can implement the same interface and let replicas share what they learn about a provider;
 * the in-process store answers synchronously inside it. Times are epoch ms, passed in so tests can
 * move the clock.
 *
 * A breaker is `closed` (calls go through; failures within `windowMs` are counted), `open` (calls are
 * refused until `retryAt`, `cooldownMs` after it opened) or `half-open` (the cooldown is over: exactly
 * one call, the probe, is let through; its success closes the breaker, its failure reopens it).
 */

/** What a breaker guards: one model of one provider at one base URL, as called by one gateway. */
export interface BreakerTarget {
  gatewayId: string;
  /** Provider slug, e.g. `openai`. */
  provider: string;
  /** The provider's configured base URL (placeholders unfilled). */
  baseUrl: string;
  /** The model the step asks for; null when the request names none. */
  model: string | null;
}

/** A gateway's `breaker` config, in ms. */
export interface BreakerSettings {
  /** Failures within `windowMs` that open a closed breaker. @default 5 */
  failures: number;
  /** @default 60000 */
  windowMs: number;
  /** How long an open breaker refuses calls before it lets one probe through. @default 30000 */
  cooldownMs: number;
}

export type BreakerState = "closed" | "open" | "half-open";

/**
 * The answer to `allow`. `probe: true` means this call is the half-open breaker's one probe: the
 * caller must report its outcome with `success`, `failure` or, when the call ended without a verdict
 * (the client left, the request was refused), `release`.
 */
export type BreakerPermit = { allowed: true; probe: boolean } | { allowed: false; retryAt: number };

/** One breaker as the admin API lists it. */
export interface BreakerStatus {
  target: BreakerTarget;
  state: BreakerState;
  /** Failures counted since the breaker last closed (for a closed one: within the window). */
  failures: number;
  /** When it last opened; null while closed. */
  openedAt: number | null;
  /** When an open breaker lets a probe through (for a half-open one: when a stalled probe is given up); null while closed. */
  retryAt: number | null;
}

/**
 * Storage behind the fallback plugin's circuit breakers. Swapping it (memory → Redis) changes no plugin.
 *
 * @example
 * const permit = await breakers.allow(target, gateway.breaker, Date.now());
 * if (permit.allowed) { const ok = await call(); await (ok ? breakers.success(target, Date.now()) : breakers.failure(target, gateway.breaker, Date.now())); }
 */
export interface BreakerStore {
  /** May a call go to `target` now? Takes the probe slot of a half-open breaker. */
  allow(target: BreakerTarget, settings: BreakerSettings, now: number): Promise<BreakerPermit>;
  /** A call answered: a half-open breaker closes and forgets its failures. */
  success(target: BreakerTarget, now: number): Promise<void>;
  /** A call failed: counted in a closed breaker (which opens at `settings.failures`); a half-open breaker reopens. */
  failure(target: BreakerTarget, settings: BreakerSettings, now: number): Promise<void>;
  /** A probe ended without a verdict: the next call may probe. No effect otherwise. */
  release(target: BreakerTarget, now: number): Promise<void>;
  /** The breakers of one gateway that are not plainly closed with no failures. */
  list(gatewayId: string, now: number): Promise<BreakerStatus[]>;
  /** Drops what the store holds. */
  close(): Promise<void>;
}

/**
 * The store key of a target: the JSON of its parts, so no two targets share a key whatever their
 * parts contain (a model named `a:b` cannot pass for a provider boundary).
 */
export function breakerKey(target: BreakerTarget): string {
  return JSON.stringify([target.gatewayId, target.provider, target.baseUrl, target.model]);
}
