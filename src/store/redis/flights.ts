import type { CacheEntry } from "../cache.ts";
import type { Flight, FlightStore, Following, Land, ReadEntry } from "../flights.ts";
import { RedisUnavailable, type RedisConnection } from "./connection.ts";
import { DEFAULT_NAMESPACE } from "./keys.ts";

/** What a landed flight's key holds for a while, so followers still polling learn how it ended. */
const STORED = "landed:1";
const NOTHING = "landed:0";

/**
 * Leads unless a flight is in the air: KEYS[1] the flight, ARGV token, lead ms and "1" to replace a
 * flight that landed with its answer stored. Returns the token of the flight's leader (ARGV[1] itself
 * when this caller leads), or `landed:1` when such a flight is there and ARGV[3] is not "1" (the caller
 * reads the cache first). A flight that landed with nothing stored is replaced.
 */
const JOIN = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 7) ~= 'landed:' then return v end
if v == 'landed:1' and ARGV[3] ~= '1' then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`;

/** Lands the flight of token ARGV[1] with ARGV[2] for ARGV[3] ms; a flight that expired or was replaced is left alone. */
const LAND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`;

/** Options of {@link RedisFlightStore}. */
export interface RedisFlightOptions {
  /** Prefix of every key. @default "sb:" */
  namespace?: string;
  /**
   * How long a leader holds its flight. A leader still upstream after that (a very long answer, or a
   * replica that died) loses it: its followers read the cache, miss, and go upstream themselves.
   * @default 60000
   */
  leadMs?: number;
  /** The longest a follower of another replica's leader waits before it goes upstream itself. @default leadMs */
  maxWaitMs?: number;
  /** How long a landed flight says how it ended, for followers still polling. @default 10000 */
  lingerMs?: number;
}

/**
 * Coalescing across replicas: identical cache misses on every replica sharing one Redis make one
 * upstream call. Leadership is `<namespace>flight:<cache key>`, set only when no flight is in the air
 * (SET … PX in a script), holding the leader's random token; landing replaces it with `landed:1`
 * (stored) or `landed:0` (nothing stored).
 *
 * Within a process, identical requests coalesce in memory first: one local leader or one local poll
 * per key, whatever the number of local requests. A follower of another replica's leader polls the
 * flight key at growing intervals (5 ms doubling to 100 ms) — simpler than pub/sub, which would need a
 * second, subscribed connection — and, once the flight landed stored, expired or was replaced, reads
 * the shared cache with the caller's `read`. It gives up after `maxWaitMs` (null: go upstream).
 *
 * While Redis is away or slow: a join leads in process (coalescing falls back to this replica alone),
 * a follow finds nothing, and a follower whose poll fails goes upstream itself. No call waits on Redis
 * longer than the connection's timeout.
 *
 * @example
 * const flights = new RedisFlightStore(connection);
 * const flight = await flights.join(key, (k) => cache.get(k, Date.now()));
 */
export class RedisFlightStore implements FlightStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #leadMs: number;
  readonly #maxWaitMs: number;
  readonly #lingerMs: number;
  /** Per key, what local requests wait on: a local leader's landing, or one poll of a remote leader. */
  readonly #local = new Map<string, Promise<CacheEntry | null>>();

  constructor(redis: RedisConnection, options: RedisFlightOptions = {}) {
    this.#redis = redis;
    this.#prefix = `${options.namespace ?? DEFAULT_NAMESPACE}flight:`;
    this.#leadMs = options.leadMs ?? 60_000;
    this.#maxWaitMs = options.maxWaitMs ?? this.#leadMs;
    this.#lingerMs = options.lingerMs ?? 10_000;
  }

  /** Keys local requests are leading or waiting on (for tests and health output). */
  get size(): number {
    return this.#local.size;
  }

  async follow(key: string, read: ReadEntry): Promise<Following | null> {
    const local = this.#local.get(key);
    if (local) return { leader: false, landed: local };
    let token: string | null;
    try {
      token = (await this.#redis.send("GET", [this.#prefix + key])) as string | null;
    } catch (error) {
      if (error instanceof RedisUnavailable) return null;
      throw error;
    }
    const joined = this.#local.get(key);
    if (joined) return { leader: false, landed: joined };
    if (token === null || token.startsWith("landed:")) return null;
    return { leader: false, landed: this.#track(key, this.#wait(key, token, read)) };
  }

  async join(key: string, read: ReadEntry): Promise<Flight> {
    const local = this.#local.get(key);
    if (local) return { leader: false, landed: local };
    // Registered before asking Redis: identical requests of this process meanwhile wait on this one.
    const { promise, resolve } = Promise.withResolvers<CacheEntry | null>();
    this.#local.set(key, promise);
    const done = () => {
      if (this.#local.get(key) === promise) this.#local.delete(key);
    };
    const token = crypto.randomUUID();
    let leader: string = token;
    try {
      leader = String(await this.#redis.script(JOIN, [this.#prefix + key], [token, this.#leadMs, "0"]));
      if (leader === STORED) {
        // A flight landed with its answer stored between this request's cache miss and now: that answer
        // is this request's too. Lead only when the cache no longer has it (expired, evicted).
        const entry = await read(key);
        if (entry) {
          resolve(entry);
          done();
          return { leader: false, landed: promise };
        }
        leader = String(await this.#redis.script(JOIN, [this.#prefix + key], [token, this.#leadMs, "1"]));
      }
    } catch (error) {
      if (!(error instanceof RedisUnavailable)) {
        resolve(null);
        done();
        throw error;
      }
      // Lead in process. The join may still run on the server later: landing with the token covers that too.
    }
    if (leader === token) return { leader: true, land: this.#land(key, token, resolve, done) };
    void this.#wait(key, leader, read).then((entry) => {
      resolve(entry);
      done();
    });
    return { leader: false, landed: promise };
  }

  /**
   * The leader's `land`: local followers get the entry at once; the flight key says how it ended. The
   * local flight stays until Redis has heard, so a local miss in between gets the entry, not a poll.
   */
  #land(key: string, token: string, resolve: (entry: CacheEntry | null) => void, done: () => void): Land {
    let landed = false;
    return (entry) => {
      if (landed) return;
      landed = true;
      resolve(entry);
      // Off the caller's path; a landing lost to an outage only makes remote followers wait for the flight to expire.
      this.#redis
        .script(LAND, [this.#prefix + key], [token, entry ? STORED : NOTHING, this.#lingerMs])
        .catch(() => {})
        .finally(done);
    };
  }

  /** Makes `landed` what local requests for `key` wait on until it settles. */
  #track(key: string, landed: Promise<CacheEntry | null>): Promise<CacheEntry | null> {
    this.#local.set(key, landed);
    void landed.finally(() => {
      if (this.#local.get(key) === landed) this.#local.delete(key);
    });
    return landed;
  }

  /** Polls the flight of `token` until it ends, then reads what it stored. Never rejects; null means go upstream. */
  async #wait(key: string, token: string, read: ReadEntry): Promise<CacheEntry | null> {
    const deadline = Date.now() + this.#maxWaitMs;
    let delay = 5;
    try {
      while (Date.now() < deadline) {
        await Bun.sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
        delay = Math.min(delay * 2, 100);
        const value = (await this.#redis.send("GET", [this.#prefix + key])) as string | null;
        if (value === token) continue;
        if (value === NOTHING) return null;
        // Landed stored, or gone (expired, Redis restarted) or replaced by a newer flight: whatever the cache holds now.
        return await read(key);
      }
      return null;
    } catch {
      return null;
    }
  }
}
