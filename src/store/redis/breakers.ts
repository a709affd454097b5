import { breakerKey, type BreakerPermit, type BreakerSettings, type BreakerState, type BreakerStatus, type BreakerStore, type BreakerTarget } from "../breakers.ts";
import { ALLOW, FAILURE, READ, RELEASE, SUCCESS } from "./breaker-scripts.ts";
import { RedisUnavailable, type RedisConnection } from "./connection.ts";
import { DEFAULT_NAMESPACE, globEscape, scanKeys } from "./keys.ts";

/** Options of {@link RedisBreakerStore}. */
export interface RedisBreakerOptions {
  /** Prefix of every key. @default "sb:" */
  namespace?: string;
  /**
   * How long an answer "closed, no failures" is trusted without asking Redis again, in ms: the common
   * request then costs no round trip, and a breaker another replica opens is seen this much later
   * (a failure here forgets the answer at once). 0 asks every time. @default 100
   */
  closedForMs?: number;
}

/** Targets remembered as closed, at most; past it the memory starts over. */
const MAX_REMEMBERED = 10_000;

/**
 * Circuit breakers shared by every replica on one Redis: what one replica learns about a failing
 * provider, the others skip too, and a half-open breaker lets exactly one probe through across all of
 * them (each change is one Lua script). One hash per target, `<namespace>breaker:<breakerKey(target)>`;
 * `list` finds a gateway's by `SCAN` (admin API only).
 *
 * While Redis is away or slow, every call is allowed (`{ allowed: true, probe: false }`) and outcomes
 * are not recorded: a breaker saves calls to a provider that is down, it is never a reason to refuse
 * one. The connection reports the fault to health as `redis`. `list` does fail then, rather than claim
 * every breaker is closed.
 *
 * @example
 * const breakers = new RedisBreakerStore(connection);
 * const permit = await breakers.allow(target, gateway.breaker, Date.now());
 */
export class RedisBreakerStore implements BreakerStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #closedForMs: number;
  /** Store key → until when (the caller's clock) it is known closed with no failures. */
  readonly #closedUntil = new Map<string, number>();

  constructor(redis: RedisConnection, options: RedisBreakerOptions = {}) {
    this.#redis = redis;
    this.#prefix = `${options.namespace ?? DEFAULT_NAMESPACE}breaker:`;
    this.#closedForMs = options.closedForMs ?? 100;
  }

  async allow(target: BreakerTarget, _settings: BreakerSettings, now: number): Promise<BreakerPermit> {
    const key = breakerKey(target);
    const until = this.#closedUntil.get(key);
    if (until !== undefined && now < until && now >= until - this.#closedForMs) return { allowed: true, probe: false };
    const reply = await this.#run(ALLOW, target, [now]);
    if (reply === null) return { allowed: true, probe: false };
    const [allowed, value, clean] = reply.map(Number);
    if (allowed === 1 && clean === 1 && this.#closedForMs > 0) {
      if (this.#closedUntil.size >= MAX_REMEMBERED) this.#closedUntil.clear();
      this.#closedUntil.set(key, now + this.#closedForMs);
    } else this.#closedUntil.delete(key);
    return allowed === 1 ? { allowed: true, probe: value === 1 } : { allowed: false, retryAt: value };
  }

  async success(target: BreakerTarget, now: number): Promise<void> {
    await this.#run(SUCCESS, target, [now]);
  }

  async failure(target: BreakerTarget, settings: BreakerSettings, now: number): Promise<void> {
    this.#closedUntil.delete(breakerKey(target));
    await this.#run(FAILURE, target, [now, settings.failures, settings.windowMs, settings.cooldownMs]);
  }

  async release(target: BreakerTarget, now: number): Promise<void> {
    await this.#run(RELEASE, target, [now]);
  }

  async list(gatewayId: string, now: number): Promise<BreakerStatus[]> {
    // breakerKey is a JSON array whose first item is the gateway id: `["prod",…`.
    const keys = await scanKeys(this.#redis, `${globEscape(`${this.#prefix}${JSON.stringify([gatewayId]).slice(0, -1)},`)}*`);
    const statuses: BreakerStatus[] = [];
    for (let start = 0; start < keys.length; start += 500) {
      const chunk = keys.slice(start, start + 500);
      const fields = (await this.#redis.script(READ, chunk, [])) as (string | null)[];
      chunk.forEach((key, i) => {
        const [st, rc, n, wm, oa, ra] = fields.slice(6 * i, 6 * i + 6);
        if (st === null) return;
        const status = statusOf(targetOf(key.slice(this.#prefix.length)), st as BreakerState, rc ?? "", Number(n), Number(wm), oa, ra, now);
        if (status) statuses.push(status);
      });
    }
    return statuses;
  }

  /** Nothing to drop: state is shared, and the connection belongs to whoever made it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Runs one script on the target's hash; null when Redis could not be asked. */
  async #run(script: string, target: BreakerTarget, args: number[]): Promise<unknown[] | null> {
    try {
      return (await this.#redis.script(script, [this.#prefix + breakerKey(target)], args)) as unknown[];
    } catch (error) {
      if (error instanceof RedisUnavailable) return null;
      throw error;
    }
  }
}

function targetOf(key: string): BreakerTarget {
  const [gatewayId, provider, baseUrl, model] = JSON.parse(key) as [string, string, string, string | null];
  return { gatewayId, provider, baseUrl, model };
}

/** A breaker as the memory store lists it; null for a closed one whose failures all left the window. */
function statusOf(target: BreakerTarget, state: BreakerState, rc: string, count: number, windowMs: number, oa: string | null, ra: string | null, now: number): BreakerStatus | null {
  if (state === "closed") {
    const failures = rc.split(" ").filter((t) => t !== "" && Number(t) > now - windowMs).length;
    return failures > 0 ? { target, state, failures, openedAt: null, retryAt: null } : null;
  }
  const retryAt = Number(ra);
  // An open breaker past its cooldown lets the next call probe: that is half-open.
  return { target, state: state === "open" && now >= retryAt ? "half-open" : state, failures: count, openedAt: Number(oa), retryAt };
}
