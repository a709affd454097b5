/**
 * Windowed counters for rate limits. One `take` checks and charges several counters as a unit, so a
 * request refused by one rule is charged to none. The in-process store is atomic because it never
 * awaits between the check and the increment; a shared store (Redis) does the same in one Lua script,
 * which is why the whole batch goes to the store in one call.
 *
 * Windows are clock-aligned: window number `floor(now / windowMs)`. A sliding counter weighs the
 * previous window by the part of it still inside the last `windowMs`:
 * `count = previous * (1 - elapsed / windowMs) + current`.
 */

/** One counter a request wants to charge. */
export interface CounterRequest {
  /** Unique per rule and per bucket, e.g. `gw:0:requests:60:header:x-user=ada`. */
  key: string;
  windowMs: number;
  limit: number;
  /**
   * What to add when every counter of the batch has room. 0 charges nothing and only checks that the
   * window is below its limit (token rules: tokens are added later with `add`, once known).
   */
  cost: number;
  /** Weigh the previous window in (sliding), or count the current one alone (fixed). */
  sliding: boolean;
}

/** A counter as it stands after `take`. */
export interface CounterWindow {
  /** This counter alone had room (`count + max(cost, 1) <= limit` before the charge). */
  allowed: boolean;
  /** The (weighted, for sliding) count after the batch: the charge is included when the batch was allowed. */
  count: number;
  /** `floor(limit - count)`, never below 0. */
  remaining: number;
  /**
   * When allowed: ms until the current window ends. When refused: ms until this counter would let
   * the same request through (the value behind `Retry-After`).
   */
  resetMs: number;
}

/** The answer to one `take`: charged everywhere (`allowed`) or nowhere. */
export interface CounterDecision {
  allowed: boolean;
  /** One per request, in the same order. */
  windows: CounterWindow[];
  /**
   * Set when a shared store (Redis) could not be asked and the answer comes from its outage policy
   * (`storage.limitsWhenDown`) instead of the counters: allowed for `"open"`, refused for `"closed"`.
   * A refusal with this set is an outage, not a full window: answer 503, not 429.
   */
  unavailable?: true;
}

/** Storage behind the rate-limit plugin. Swapping it (memory → Redis) changes no plugin. */
export interface CounterStore {
  /**
   * Checks every counter and, only if all have room, charges each its `cost` — atomically with
   * respect to every other `take` and `add`. `now` (epoch ms) is injectable for tests.
   */
  take(requests: readonly CounterRequest[], now?: number): Promise<CounterDecision>;
  /**
   * Adds `amount` (negative to refund, never below 0) to the window that contains `now`: used to settle
   * token counts after the answer and to refund cache hits. A window that no longer counts is left alone.
   */
  add(key: string, windowMs: number, amount: number, now?: number): Promise<void>;
  /** Stops background work (the expiry sweep). */
  close(): Promise<void>;
}
