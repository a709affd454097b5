/**
 * Spend in USD per window, for the budget plugin. A request is admitted while its bucket's spend —
 * settled cost plus what admitted requests still hold reserved — is under the limit, and admission
 * reserves an estimate in the same step. `reserve` checks and reserves several buckets as one unit, so
 * a request refused by one rule holds nothing anywhere; the in-process store does it in one synchronous
 * stretch, a shared store (Redis) would do it in one script, which is why the whole batch goes in one call.
 *
 * Windows are clock-aligned: window number `floor(now / windowMs)`. A sliding bucket weighs the
 * previous window's settled spend by the part of it still inside the last `windowMs`:
 * `spent = previous * (1 - elapsed / windowMs) + current`. Reservations belong to the bucket, not to a
 * window: a request admitted just before a window ends holds its reservation until it settles.
 *
 * Keys are `budget:<gateway>:<rule index>:<bucket>`, so a gateway's rule can be listed by prefix.
 */

/** One bucket a request wants to hold money in. */
export interface SpendRequest {
  /** Unique per rule and bucket, e.g. `budget:prod:0:metadata:team=ml`. */
  key: string;
  windowMs: number;
  /** USD; the bucket admits while its spend (settled + reserved) is below it. */
  limit: number;
  sliding: boolean;
  /** USD to hold until `settle`, when every bucket of the batch admits. May be 0. */
  reserve: number;
}

/** A bucket as `reserve` saw it, before this request's reservation. */
export interface SpendWindow {
  /** This bucket alone admits (`spent + reserved < limit`). */
  allowed: boolean;
  /** Settled USD in the window (weighted, for sliding). */
  spent: number;
  /** USD held by admitted requests that have not settled. */
  reserved: number;
  /** Epoch ms the current window started. */
  windowStart: number;
  /**
   * When allowed: ms until the current window ends. When refused: ms until the settled spend alone is
   * below the limit again (window end for fixed; the previous window faded enough for sliding).
   */
  resetMs: number;
}

/** The answer to one `reserve`: held everywhere (`allowed`) or nowhere. */
export interface SpendDecision {
  allowed: boolean;
  /** One per request, in the same order. */
  windows: SpendWindow[];
  /**
   * Set when a shared store could not be asked and the answer is its outage policy
   * (`storage.limitsWhenDown`): admitted uncounted (`"open"`), or refused (`"closed"`). A refusal with
   * this set is an outage, not a spent budget: answer 503, not 429.
   */
  unavailable?: true;
}

/** What one admitted request settles in one bucket. */
export interface SpendCharge {
  key: string;
  windowMs: number;
  /** The amount `reserve` held, released now. */
  reserved: number;
  /** The real cost in USD, added to the window that contains `now` (0 for a cache hit or an unpriced answer). */
  cost: number;
}

/** A bucket as the admin API lists it. */
export interface SpendStatus {
  key: string;
  windowMs: number;
  sliding: boolean;
  spent: number;
  reserved: number;
  windowStart: number;
  /** Epoch ms the current window ends. */
  resetsAt: number;
}

/** Storage behind the budget plugin. Swapping it (memory → Redis) changes no plugin. */
export interface SpendStore {
  /**
   * Checks every bucket and, only if all admit, adds each request's `reserve` to its bucket — atomically
   * with respect to every other `reserve` and `settle`. `now` (epoch ms) is injectable for tests.
   */
  reserve(requests: readonly SpendRequest[], now?: number): Promise<SpendDecision>;
  /** Releases each charge's reservation and adds its cost to the window of `now`, as one unit. */
  settle(charges: readonly SpendCharge[], now?: number): Promise<void>;
  /** Buckets whose key starts with `prefix` that were charged in the current window or hold a reservation. */
  list(prefix: string, now?: number): Promise<SpendStatus[]>;
  /** Stops background work (the expiry sweep). */
  close(): Promise<void>;
}
