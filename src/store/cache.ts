/**
 * Cached answers. Every method returns a Promise so a networked store (Redis) can implement the same
 * interface; the SQLite store answers synchronously inside it. Entries are immutable: a key is written
 * whole by `put` and replaced whole by the next `put`.
 */

/** One stored answer: what a cache hit replays, byte for byte. */
export interface CacheEntry {
  status: number;
  /** Response headers worth replaying, in order, repeats kept (no `cf-aig-*`, date or hop-by-hop headers). */
  headers: [name: string, value: string][];
  /** The whole body as the client received it (an SSE stream is stored as its raw bytes). */
  body: Uint8Array;
  /** Universal step that answered (0 for provider-native requests). */
  step: number;
  /** Epoch ms when the entry was written. */
  createdAt: number;
  /** Epoch ms after which the entry is never served. */
  expiresAt: number;
}

/**
 * Storage behind the cache plugin.
 *
 * @example
 * await cache.put("default:3f2a…", { status: 200, headers: [["content-type", "application/json"]], body, step: 0, createdAt: now, expiresAt: now + 300_000 });
 * const entry = await cache.get("default:3f2a…"); // null once expired
 */
export interface CacheStore {
  /** The live entry for `key`, or null when there is none or it expired at or before `now`. */
  get(key: string, now?: number): Promise<CacheEntry | null>;
  /** Writes (or replaces) the entry for `key`. */
  put(key: string, entry: CacheEntry): Promise<void>;
  /** Removes `key`; resolves true when an entry was there. */
  delete(key: string): Promise<boolean>;
  /** Deletes every entry expired at or before `now`; resolves how many were removed. */
  purgeExpired(now?: number): Promise<number>;
}
