import type { SpendCharge, SpendDecision, SpendRequest, SpendStatus, SpendStore, SpendWindow } from "../spend.ts";
import { RedisUnavailable, type RedisConnection } from "./connection.ts";
import { OUTAGE_RETRY_MS } from "./counters.ts";
import { DEFAULT_NAMESPACE, globEscape, scanKeys, type LimitsWhenDown } from "./keys.ts";
import { READ, RESERVE, SETTLE } from "./spend-scripts.ts";

/** Nano-dollars per USD: what Redis stores, as integers, so sums of many small costs never drift. */
const NANO = 1e9;
const toNano = (usd: number) => Math.round(usd * NANO);
const fromNano = (nano: number) => nano / NANO;

/** Options of {@link RedisSpendStore}. */
export interface RedisSpendOptions {
  /** What `reserve` answers while Redis cannot be asked; `storage.limitsWhenDown`. */
  limitsWhenDown: LimitsWhenDown;
  /** Prefix of every key. @default "sb:" */
  namespace?: string;
  /**
   * A bucket that holds a reservation lives at least this long after it was last touched, even when its
   * windows no longer count (a request admitted in a window may settle after it); also how long a
   * settlement is remembered, so a retried one is applied once. @default 3600000
   */
  holdMs?: number;
  /** Settlements kept in memory while Redis is away, retried once it answers again; beyond it they are dropped. @default 10000 */
  maxUnsettled?: number;
}

/** One settlement as sent: its own id (so a retry is applied once) and, per charge, the hold id of a `reserve` whose answer was lost. */
interface Settlement {
  id: string;
  charges: readonly SpendCharge[];
  holds: (string | null)[];
  now: number;
}

/**
 * Budget spend shared by every replica on one Redis: `reserve` and `settle` are Lua scripts over the
 * whole batch, so racing admissions on any replica never spend the same room twice. A bucket is one
 * hash, `<namespace>spend:<bucket key>`; money is held in integer nano-dollars (USD × 10⁹, rounded),
 * exact for sums up to about 9 million USD, where floats would drift over millions of small costs.
 * `list` finds a prefix's buckets by `SCAN` (admin API only).
 *
 * While Redis is away or slow, `reserve` answers from the outage policy without waiting (`"open"`
 * admits, `"closed"` refuses; both mark the decision `unavailable: true`). A call that timed out may
 * still run on the server later, so every admission leaves a hold key (`<namespace>spend-hold:<id>`)
 * and the store remembers the ids of the calls it never heard back from: their settlement (or, for a
 * refusal, a cancellation the store sends itself) releases the reservation only if Redis did hold it,
 * and cancels it if it did not arrive yet. A settlement that cannot reach Redis is kept in memory (up to
 * `maxUnsettled`) and retried after the next call that reaches it; each carries an id, so one that
 * timed out but ran is not applied twice. A Redis blip therefore leaves no reservation held.
 *
 * Known limits: a replica that dies between `reserve` and `settle` leaves its reservation held until the
 * bucket expires (see `holdMs`; a bucket kept busy keeps it longer); a Redis restart loses spend and
 * reservations (buckets are disposable, like counters).
 *
 * @example
 * const spend = new RedisSpendStore(connection, { limitsWhenDown: config.storage.limitsWhenDown });
 * await spend.reserve([{ key: "budget:prod:0:gateway", windowMs: 86_400_000, limit: 25, sliding: false, reserve: 0.02 }]);
 */
export class RedisSpendStore implements SpendStore {
  readonly #redis: RedisConnection;
  readonly #whenDown: LimitsWhenDown;
  readonly #ns: string;
  readonly #prefix: string;
  readonly #holdMs: number;
  readonly #maxUnsettled: number;
  /** Settlements Redis has not seen yet. */
  #unsettled: Settlement[] = [];
  #flushing = false;
  /** Per bucket, the admissions answered `"open"` after their `reserve` call failed: hold id and amount. */
  readonly #uncertain = new Map<string, { hold: string; reserved: number }[]>();
  #uncertainCount = 0;

  constructor(redis: RedisConnection, options: RedisSpendOptions) {
    this.#redis = redis;
    this.#whenDown = options.limitsWhenDown;
    this.#ns = options.namespace ?? DEFAULT_NAMESPACE;
    this.#prefix = `${this.#ns}spend:`;
    this.#holdMs = options.holdMs ?? 3_600_000;
    this.#maxUnsettled = options.maxUnsettled ?? 10_000;
  }

  /** Settlements waiting for Redis to come back (for tests and health output). */
  get unsettled(): number {
    return this.#unsettled.length;
  }

  /** As the interface says, plus `unavailable: true` when the answer comes from the outage policy (see `CounterDecision.unavailable`). */
  async reserve(requests: readonly SpendRequest[], now = Date.now()): Promise<SpendDecision & { unavailable?: true }> {
    if (requests.length === 0) return { allowed: true, windows: [] };
    const hold = crypto.randomUUID();
    const args: number[] = [now, this.#holdMs];
    for (const r of requests) args.push(r.windowMs, toNano(r.limit), r.sliding ? 1 : 0, toNano(r.reserve));
    let reply: number[];
    try {
      const keys = [...requests.map((r) => this.#prefix + r.key), this.#holdKey(hold)];
      reply = ((await this.#redis.script(RESERVE, keys, args)) as (number | string)[]).map(Number);
    } catch (error) {
      if (error instanceof RedisUnavailable) return this.#down(requests, hold, now);
      throw error;
    }
    this.#flushSoon();
    const windows = requests.map((r, i) => {
      const [ok, window, current, previous, reserved] = reply.slice(1 + 5 * i, 6 + 5 * i);
      return measure(ok === 1, r.windowMs, r.sliding, window, fromNano(current), fromNano(previous), fromNano(reserved), r.limit, now);
    });
    return { allowed: reply[0] === 1, windows };
  }

  async settle(charges: readonly SpendCharge[], now = Date.now()): Promise<void> {
    if (charges.length === 0) return;
    const settlement = { id: crypto.randomUUID(), charges, holds: charges.map((c) => this.#takeUncertain(c.key, c.reserved)), now };
    if (await this.#send(settlement)) this.#flushSoon();
    else this.#keep(settlement);
  }

  async list(prefix: string, now = Date.now()): Promise<SpendStatus[]> {
    const keys = await scanKeys(this.#redis, `${globEscape(this.#prefix + prefix)}*`);
    const out: SpendStatus[] = [];
    for (let start = 0; start < keys.length; start += 500) {
      const chunk = keys.slice(start, start + 500);
      const fields = (await this.#redis.script(READ, chunk, [])) as (string | null)[];
      chunk.forEach((key, i) => {
        const [ms, sl, w, cur, prev, res] = fields.slice(6 * i, 6 * i + 6);
        if (ms === null) return;
        const windowMs = Number(ms);
        const sliding = sl === "1";
        // Rolled forward to `now` the way the scripts do, without writing.
        let [window, current, previous] = [Number(w), fromNano(Number(cur)), fromNano(Number(prev))];
        const nowWindow = Math.floor(now / windowMs);
        if (window < nowWindow) [window, previous, current] = [nowWindow, window === nowWindow - 1 ? current : 0, 0];
        const reserved = fromNano(Number(res));
        const seen = measure(true, windowMs, sliding, window, current, previous, reserved, Infinity, now);
        if (current === 0 && reserved === 0 && seen.spent === 0) return;
        const windowStart = seen.windowStart;
        out.push({ key: key.slice(this.#prefix.length), windowMs, sliding, spent: seen.spent, reserved, windowStart, resetsAt: windowStart + windowMs });
      });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /** Nothing to stop: the connection belongs to whoever made it (it is shared by every Redis store). */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #holdKey(hold: string): string {
    return `${this.#ns}spend-hold:${hold}`;
  }

  /** Sends one settlement; false when Redis could not be asked. */
  async #send(settlement: Settlement): Promise<boolean> {
    const keys = [`${this.#ns}spend-settled:${settlement.id}`];
    const args: number[] = [settlement.now, this.#holdMs];
    settlement.charges.forEach((c, i) => {
      const hold = settlement.holds[i];
      keys.push(this.#prefix + c.key, hold ? this.#holdKey(hold) : this.#prefix + c.key);
      args.push(c.windowMs, toNano(c.reserved), toNano(c.cost), hold ? 1 : 0);
    });
    try {
      await this.#redis.script(SETTLE, keys, args);
      return true;
    } catch (error) {
      if (error instanceof RedisUnavailable) return false;
      throw error;
    }
  }

  #keep(settlement: Settlement): void {
    if (this.#unsettled.length < this.#maxUnsettled) this.#unsettled.push(settlement);
  }

  /** Retries what an outage left unsettled, off the caller's path, once Redis answered again. */
  #flushSoon(): void {
    if (this.#flushing || this.#unsettled.length === 0) return;
    this.#flushing = true;
    const batch = this.#unsettled;
    this.#unsettled = [];
    void (async () => {
      for (const settlement of batch) {
        // A script error (not an outage) would fail again: that settlement is dropped.
        if (!(await this.#send(settlement).catch(() => true))) this.#keep(settlement);
      }
    })().finally(() => {
      this.#flushing = false;
    });
  }

  /** The hold id of an admission of `key` whose `reserve` call failed, if this settlement is for one. */
  #takeUncertain(key: string, reserved: number): string | null {
    const list = this.#uncertain.get(key);
    const index = list?.findIndex((u) => u.reserved === reserved) ?? -1;
    if (!list || index < 0) return null;
    const [{ hold }] = list.splice(index, 1);
    if (list.length === 0) this.#uncertain.delete(key);
    this.#uncertainCount--;
    return hold;
  }

  /** The outage policy's answer. What the failed call may still hold in Redis is released or cancelled later. */
  #down(requests: readonly SpendRequest[], hold: string, now: number): SpendDecision & { unavailable: true } {
    const open = this.#whenDown === "open";
    if (!open) {
      // Refused: no settlement will come, so the store cancels the reservation itself.
      this.#keep({ id: crypto.randomUUID(), charges: requests.map((r) => ({ key: r.key, windowMs: r.windowMs, reserved: r.reserve, cost: 0 })), holds: requests.map(() => hold), now });
    } else if (this.#uncertainCount < this.#maxUnsettled) {
      for (const r of requests) {
        const list = this.#uncertain.get(r.key) ?? [];
        list.push({ hold, reserved: r.reserve });
        this.#uncertain.set(r.key, list);
        this.#uncertainCount++;
      }
    }
    const windows = requests.map((r): SpendWindow => {
      const windowStart = Math.floor(now / r.windowMs) * r.windowMs;
      return { allowed: open, spent: 0, reserved: 0, windowStart, resetMs: open ? windowStart + r.windowMs - now : OUTAGE_RETRY_MS };
    });
    return { allowed: open, windows, unavailable: true };
  }
}

/** A bucket as the memory store measures it. `allowed` comes from the script, which compared in nano-dollars. */
function measure(allowed: boolean, windowMs: number, sliding: boolean, window: number, current: number, previous: number, reserved: number, limit: number, now: number): SpendWindow {
  const windowStart = window * windowMs;
  const elapsed = now - windowStart;
  const toEnd = windowMs - elapsed;
  const spent = (sliding ? previous * (1 - elapsed / windowMs) : 0) + current;
  if (allowed) return { allowed, spent, reserved, windowStart, resetMs: toEnd };
  return { allowed, spent, reserved, windowStart, resetMs: waitMs(sliding, windowMs, current, previous, limit, elapsed, toEnd) };
}

/** How long until the settled spend is below `limit`: the window's end (fixed), or the previous window faded enough (sliding). */
function waitMs(sliding: boolean, windowMs: number, current: number, previous: number, limit: number, elapsed: number, toEnd: number): number {
  if (!sliding) return toEnd;
  if (current < limit && previous > 0) {
    // previous * (1 - f) + current < limit, solved for the elapsed fraction f of this window.
    const fraction = 1 - (limit - current) / previous;
    return Math.max(1, Math.ceil(fraction * windowMs - elapsed) + 1);
  }
  // Only in the next window, once this window's spend (then the previous one) has faded enough.
  return Math.ceil(toEnd + Math.max(0, 1 - limit / current) * windowMs) + 1;
}
