import type { CounterDecision, CounterRequest, CounterStore, CounterWindow } from "../counters.ts";
import { RedisUnavailable, type RedisConnection } from "./connection.ts";
import { DEFAULT_NAMESPACE, type LimitsWhenDown } from "./keys.ts";

/**
 * Checks every counter of a batch and charges all of them, or none: one script, so no other `take` or
 * `add` (from any replica) runs in between. KEYS: per request, its current then its previous window.
 * ARGV: per request, windowMs, limit, cost, sliding (1/0), elapsed ms of the window, TTL ms of the
 * current window's key. Returns `{allowed (1/0), current₁, previous₁, current₂, …}`, the counts as
 * the strings Redis holds (a Lua number would come back truncated to an integer).
 *
 * The weighting is the memory store's, term for term and in the same order, so both decide alike.
 */
const TAKE = `
local n = #KEYS / 2
local allowed = 1
local reply = {0}
for i = 1, n do
  local a = (i - 1) * 6
  local windowMs, limit, cost = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local sliding, elapsed = ARGV[a + 4] == '1', tonumber(ARGV[a + 5])
  local current = redis.call('GET', KEYS[2 * i - 1]) or '0'
  local previous = '0'
  local weighted = 0
  if sliding then
    previous = redis.call('GET', KEYS[2 * i]) or '0'
    weighted = tonumber(previous) * (1 - elapsed / windowMs)
  end
  if weighted + tonumber(current) + math.max(cost, 1) > limit then allowed = 0 end
  reply[2 * i] = current
  reply[2 * i + 1] = previous
end
if allowed == 1 then
  for i = 1, n do
    local a = (i - 1) * 6
    if tonumber(ARGV[a + 3]) ~= 0 then
      redis.call('INCRBYFLOAT', KEYS[2 * i - 1], ARGV[a + 3])
      redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[a + 6])
    end
  end
end
reply[1] = allowed
return reply
`;

/**
 * Adds ARGV[1] to the window KEYS[1]; a refund (negative) never goes below 0 and never creates a
 * window that was not charged. ARGV[2]: the key's TTL ms when the add creates it.
 */
const ADD = `
local amount = tonumber(ARGV[1])
if amount > 0 then
  redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local left = tonumber(current) + amount
if left < 0 then left = 0 end
redis.call('SET', KEYS[1], string.format('%.17g', left), 'KEEPTTL')
return 1
`;

/** `Retry-After` of a request refused because Redis is away (`limitsWhenDown: "closed"`). */
export const OUTAGE_RETRY_MS = 1000;

/** Options of {@link RedisCounterStore}. */
export interface RedisCounterOptions {
  /** What `take` answers while Redis cannot be asked; `storage.limitsWhenDown`. */
  limitsWhenDown: LimitsWhenDown;
  /** Prefix of every key. @default "sb:" */
  namespace?: string;
}

/**
 * Rate-limit counters shared by every replica on one Redis: a limit of 50 per minute lets 50 requests
 * through in total, however they are spread. Each window of each counter is one key,
 * `<namespace>counter:<windowMs>:<window number>:<counter key>`, holding the count as a decimal string
 * and expiring two windows after its window began (by then it no longer counts, not even as a
 * sliding window's previous one). `take` is one Lua script over the whole batch.
 *
 * While Redis is away or slower than the connection's timeout, `take` answers from the outage policy
 * without waiting: `"open"` allows (every window `remaining = limit`), `"closed"` refuses; both set
 * `unavailable`, and the connection reports the fault to health as `redis`. An `add` that cannot
 * reach Redis is dropped: counters are disposable, like everything a Redis restart loses.
 *
 * @example
 * const counters = new RedisCounterStore(connection, { limitsWhenDown: config.storage.limitsWhenDown });
 * const decision = await counters.take([{ key: "gw:0:requests:60:ip=1.2.3.4", windowMs: 60_000, limit: 50, cost: 1, sliding: false }]);
 */
export class RedisCounterStore implements CounterStore {
  readonly #redis: RedisConnection;
  readonly #whenDown: LimitsWhenDown;
  readonly #prefix: string;

  constructor(redis: RedisConnection, options: RedisCounterOptions) {
    this.#redis = redis;
    this.#whenDown = options.limitsWhenDown;
    this.#prefix = `${options.namespace ?? DEFAULT_NAMESPACE}counter:`;
  }

  async take(requests: readonly CounterRequest[], now = Date.now()): Promise<CounterDecision> {
    if (requests.length === 0) return { allowed: true, windows: [] };
    const keys: string[] = [];
    const args: number[] = [];
    for (const r of requests) {
      const window = Math.floor(now / r.windowMs);
      keys.push(this.#key(r.key, r.windowMs, window), this.#key(r.key, r.windowMs, window - 1));
      args.push(r.windowMs, r.limit, r.cost, r.sliding ? 1 : 0, now - window * r.windowMs, (window + 2) * r.windowMs - now);
    }
    let reply: (number | string)[];
    try {
      reply = (await this.#redis.script(TAKE, keys, args)) as (number | string)[];
    } catch (error) {
      if (error instanceof RedisUnavailable) return this.#down(requests, now);
      throw error;
    }
    const allowed = Number(reply[0]) === 1;
    const windows = requests.map((r, i) => {
      const seen = measure(Number(reply[2 * i + 1]), Number(reply[2 * i + 2]), r, now);
      if (allowed && r.cost !== 0) {
        seen.count += r.cost;
        seen.remaining = Math.max(0, Math.floor(r.limit - seen.count));
      }
      return seen;
    });
    return { allowed, windows };
  }

  async add(key: string, windowMs: number, amount: number, now = Date.now()): Promise<void> {
    if (amount === 0) return;
    const window = Math.floor(now / windowMs);
    try {
      await this.#redis.script(ADD, [this.#key(key, windowMs, window)], [amount, (window + 2) * windowMs - now]);
    } catch (error) {
      if (!(error instanceof RedisUnavailable)) throw error;
    }
  }

  /** Nothing to stop: the connection belongs to whoever made it (it is shared by every Redis store). */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #key(key: string, windowMs: number, window: number): string {
    return `${this.#prefix}${windowMs}:${window}:${key}`;
  }

  /** The outage policy's answer: nothing was checked or charged. */
  #down(requests: readonly CounterRequest[], now: number): CounterDecision {
    const open = this.#whenDown === "open";
    const windows = requests.map((r): CounterWindow => {
      if (!open) return { allowed: false, count: 0, remaining: 0, resetMs: OUTAGE_RETRY_MS };
      return { allowed: true, count: 0, remaining: Math.max(0, Math.floor(r.limit)), resetMs: r.windowMs - (now % r.windowMs) };
    });
    return { allowed: open, windows, unavailable: true };
  }
}

/** One counter as the memory store measures it, from its current and previous window's counts. */
function measure(current: number, previousCount: number, r: CounterRequest, now: number): CounterWindow {
  const elapsed = now - Math.floor(now / r.windowMs) * r.windowMs;
  const previous = r.sliding ? previousCount * (1 - elapsed / r.windowMs) : 0;
  const count = previous + current;
  const need = Math.max(r.cost, 1);
  const allowed = count + need <= r.limit;
  return {
    allowed,
    count,
    remaining: Math.max(0, Math.floor(r.limit - count)),
    resetMs: allowed ? r.windowMs - elapsed : waitMs(current, previousCount, r, need, elapsed),
  };
}

/** How long until `need` fits: the current window ends (fixed), or the previous one has faded enough (sliding). */
function waitMs(current: number, previous: number, r: CounterRequest, need: number, elapsed: number): number {
  const toEnd = r.windowMs - elapsed;
  const room = r.limit - need;
  if (!r.sliding || room < 0) return toEnd;
  if (current <= room) {
    // previous * (1 - f) + current <= room, solved for the elapsed fraction f of this window.
    const fraction = 1 - (room - current) / previous;
    return Math.max(0, Math.ceil(fraction * r.windowMs - elapsed));
  }
  // Only in the next window, once this window's count (then the previous one) has faded enough.
  return Math.ceil(toEnd + (1 - room / current) * r.windowMs);
}
