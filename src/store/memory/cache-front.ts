import type { CacheEntry, CacheStore } from "../cache.ts";

/** Options of {@link MemoryCacheFront}. */
export interface MemoryCacheFrontOptions {
  /** Bytes of entries kept in memory (bodies plus a rough size of their headers). @default 67108864 (64 MiB) */
  maxBytes?: number;
  /** Larger entries are served from the store behind only. @default 1048576 (1 MiB) */
  maxEntryBytes?: number;
}

const sizeOf = (entry: CacheEntry) => entry.body.byteLength + 64 * (entry.headers.length + 1);

/**
 * A least-recently-used copy of the hottest entries in front of another `CacheStore`, bounded by
 * bytes, so a hit costs a Map lookup instead of a database read and a JSON parse. Every write and
 * delete of this process goes through it. In front of a store shared by replicas (Redis) it stays
 * right because entries are immutable per key until they expire (keys are hashes of the request), it
 * never serves past `expiresAt`, and once its copy expires it asks the store behind again, which may
 * hold a newer answer another replica wrote. Nothing deletes entries across replicas today; an
 * explicit purge would need an invalidation message.
 *
 * @example
 * const cache = new MemoryCacheFront(new SqliteCacheStore(db), { maxBytes: 32 * 1024 * 1024 });
 */
export class MemoryCacheFront implements CacheStore {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #maxBytes: number;
  readonly #maxEntryBytes: number;
  #bytes = 0;

  constructor(
    private readonly behind: CacheStore,
    options: MemoryCacheFrontOptions = {},
  ) {
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#maxEntryBytes = Math.min(options.maxEntryBytes ?? 1024 * 1024, this.#maxBytes);
  }

  async get(key: string, now = Date.now()): Promise<CacheEntry | null> {
    const hot = this.#entries.get(key);
    if (hot) {
      this.#drop(key, hot);
      if (hot.expiresAt > now) {
        this.#keep(key, hot);
        return hot;
      }
      // Expired here: the store behind may hold a newer answer another replica wrote since.
    }
    const entry = await this.behind.get(key, now);
    if (entry) this.#keep(key, entry);
    return entry;
  }

  async put(key: string, entry: CacheEntry): Promise<void> {
    await this.behind.put(key, entry);
    const old = this.#entries.get(key);
    if (old) this.#drop(key, old);
    this.#keep(key, entry);
  }

  async delete(key: string): Promise<boolean> {
    const old = this.#entries.get(key);
    if (old) this.#drop(key, old);
    return this.behind.delete(key);
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#drop(key, entry);
    return this.behind.purgeExpired(now);
  }

  /** Bytes held in memory now (for tests and health output). */
  get bytes(): number {
    return this.#bytes;
  }

  #keep(key: string, entry: CacheEntry): void {
    const size = sizeOf(entry);
    if (size > this.#maxEntryBytes) return;
    // A Map iterates in insertion order: re-inserting on every use keeps the coldest entry first.
    this.#entries.set(key, entry);
    this.#bytes += size;
    for (const [coldKey, cold] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#drop(coldKey, cold);
    }
  }

  #drop(key: string, entry: CacheEntry): void {
    this.#entries.delete(key);
    this.#bytes -= sizeOf(entry);
  }
}
