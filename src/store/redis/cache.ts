import type { Health } from "../../pipeline/types.ts";
import { consoleHealth } from "../../server/health.ts";
import type { CacheEntry, CacheStore } from "../cache.ts";
import { fromBase64, toBase64 } from "./bytes.ts";
import { RedisUnavailable, type RedisConnection } from "./connection.ts";
import { DEFAULT_NAMESPACE } from "./keys.ts";

/** Options of {@link RedisCacheStore}. */
export interface RedisCacheStoreOptions {
  /** What every key starts with (see `DEFAULT_NAMESPACE`); an entry is `<namespace>cache:<cache key>`. @default "sb:" */
  namespace?: string;
  /**
   * Larger bodies are not stored (a put of one is skipped). Keep it within what Redis moves in the
   * connection's timeout: a body travels as base64, a third larger. @default 26214400 (25 MiB, the cache plugin's limit)
   */
  maxBodyBytes?: number;
  /**
   * Where answers Redis gave but the store cannot use (a value in another format, a WRONGTYPE) are
   * reported, as component `"cache"`. Redis being away or slow is the connection's to report, as `"redis"`.
   * @default `consoleHealth()`
   */
  health?: Health;
}

/** What is stored before the body, as one JSON line. `v` is bumped when the format changes. */
interface Head {
  v: 1;
  status: number;
  step: number;
  createdAt: number;
  expiresAt: number;
  headers: [string, string][];
  /** Body length in bytes: a truncated or damaged value is detected, never served. */
  size: number;
}

/**
 * `CacheStore` in Redis, shared by every replica: one string key per entry, `<namespace>cache:<key>`, holding a
 * JSON head line (status, headers, step, createdAt, expiresAt, body size) and the body in base64,
 * written by one `SET … PX`. The key's lifetime is the entry's (`expiresAt − createdAt`), so Redis
 * forgets it on its own however the replicas' clocks differ, and `get` still checks `expiresAt`
 * against its `now`. `purgeExpired` therefore has nothing to do and resolves 0.
 *
 * When Redis is away or slow (see `RedisConnection`), nothing waits longer than the connection's
 * timeout and nothing throws: `get` is a miss (the cache is bypassed), `put` and `delete` are
 * skipped (`delete` resolves false). A put that timed out may still land once Redis answers.
 *
 * @example
 * const cache = new RedisCacheStore(new RedisConnection(config.storage.redis, { timeoutMs: 250, health }), { health });
 * await cache.put("default:3f2a…", entry);
 * await cache.get("default:3f2a…"); // the same entry, from any replica
 */
export class RedisCacheStore implements CacheStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #maxBodyBytes: number;
  readonly #health: Health;

  constructor(redis: RedisConnection, options: RedisCacheStoreOptions = {}) {
    this.#redis = redis;
    this.#prefix = `${options.namespace ?? DEFAULT_NAMESPACE}cache:`;
    this.#maxBodyBytes = options.maxBodyBytes ?? 25 * 1024 * 1024;
    this.#health = options.health ?? consoleHealth();
  }

  async get(key: string, now = Date.now()): Promise<CacheEntry | null> {
    const value = await this.#send("GET", [this.#prefix + key], "reading a cached answer");
    if (typeof value !== "string") return null;
    const entry = decode(value);
    if (!entry) {
      this.#health.fault("cache", new TypeError("a cached answer in Redis has an unknown format"), { during: "reading a cached answer" });
      return null;
    }
    this.#health.recovered("cache");
    return entry.expiresAt > now ? entry : null;
  }

  async put(key: string, entry: CacheEntry): Promise<void> {
    if (entry.body.byteLength > this.#maxBodyBytes) return;
    // Dead on arrival (no lifetime left): deleted, like an overwrite that is never served.
    const lifetime = Math.floor(entry.expiresAt - entry.createdAt);
    const reply = lifetime > 0
      ? await this.#send("SET", [this.#prefix + key, encode(entry), "PX", lifetime], "writing a cached answer")
      : await this.#send("DEL", [this.#prefix + key], "writing a cached answer");
    if (reply !== undefined) this.#health.recovered("cache");
  }

  async delete(key: string): Promise<boolean> {
    const removed = await this.#send("DEL", [this.#prefix + key], "deleting a cached answer");
    if (removed !== undefined) this.#health.recovered("cache");
    return typeof removed === "number" && removed > 0;
  }

  /** Redis expires entries itself (`PX`): nothing to do. */
  async purgeExpired(_now?: number): Promise<number> {
    return 0;
  }

  /** One command; undefined when it could not be run (already reported). Never throws. */
  async #send(command: string, args: (string | number)[], during: string): Promise<unknown> {
    try {
      return await this.#redis.send(command, args);
    } catch (error) {
      // Away or slow is the connection's fault to report (component "redis"); anything else is ours.
      if (!(error instanceof RedisUnavailable)) this.#health.fault("cache", error, { during });
      return undefined;
    }
  }
}

/** The stored form of an entry: its head as one JSON line (JSON never contains a raw newline), then the body in base64. */
export function encode(entry: CacheEntry): string {
  const head: Head = {
    v: 1,
    status: entry.status,
    step: entry.step,
    createdAt: entry.createdAt,
    expiresAt: entry.expiresAt,
    headers: entry.headers,
    size: entry.body.byteLength,
  };
  return `${JSON.stringify(head)}\n${toBase64(entry.body)}`;
}

/** The entry of a stored value, or null when the value is not one this version wrote whole. */
export function decode(value: string): CacheEntry | null {
  const newline = value.indexOf("\n");
  if (newline < 0) return null;
  let head: Head;
  try {
    head = JSON.parse(value.slice(0, newline));
  } catch {
    return null;
  }
  if (head?.v !== 1 || !Array.isArray(head.headers)) return null;
  const body = fromBase64(value.slice(newline + 1));
  if (body.byteLength !== head.size) return null;
  return { status: head.status, headers: head.headers, body, step: head.step, createdAt: head.createdAt, expiresAt: head.expiresAt };
}
