import type { Database, Statement } from "bun:sqlite";
import type { Health } from "../../pipeline/types.ts";
import { consoleHealth } from "../../server/health.ts";
import type { CacheEntry, CacheStore } from "../cache.ts";
import { migrate, neverWaitForLocks } from "./db.ts";

/** Append only: `migrate` applies the entries a file has not seen yet. */
const CACHE_MIGRATIONS = [
  `CREATE TABLE cache (
    key TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    status INTEGER NOT NULL,
    step INTEGER NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL
  );
  CREATE INDEX cache_expires_at ON cache (expires_at);`,
];

interface CacheRow {
  expires_at: number;
  created_at: number;
  status: number;
  step: number;
  headers: string;
  body: Uint8Array;
}

type PutParams = [string, number, number, number, number, string, Uint8Array];

/** How long written entries wait to be committed together (they are served from `#pending` meanwhile). */
const WRITE_DELAY_MS = 20;

/** Options of {@link SqliteCacheStore}. */
export interface SqliteCacheStoreOptions {
  /** Where failed writes, reads and purges are reported, as component `"cache"`. @default `consoleHealth()` */
  health?: Health;
}

/**
 * The default `CacheStore`: a `cache` table in its own SQLite file (see `cacheFile`), so entries
 * survive a restart. The file is written by this thread alone, never by the log writer thread, so a
 * write never waits on another thread's lock; writes are queued and committed together, one
 * transaction per few milliseconds, and reads see the queue first.
 *
 * Nothing here ever throws out of a timer: a write the file refuses (disk full, I/O error) is a fault of
 * the `"cache"` component in `health`, and its entries are simply not cached. A read that fails is a miss.
 *
 * @example
 * const cache = new SqliteCacheStore(openDatabase(cacheFile(config.storage.sqlite)));
 */
export class SqliteCacheStore implements CacheStore {
  readonly #get: Statement<CacheRow, [string, number]>;
  readonly #put: Statement<unknown, PutParams>;
  readonly #delete: Statement<unknown, [string]>;
  readonly #purge: Statement<{ key: string }, [number]>;
  readonly #writeAll: (entries: [string, CacheEntry][]) => void;
  #pending = new Map<string, CacheEntry>();
  /** Keys that have a row, so a miss — most lookups of a busy cache — costs no database read. */
  readonly #stored: Set<string>;
  #timer: ReturnType<typeof setTimeout> | null = null;
  readonly #health: Health;

  constructor(
    private readonly db: Database,
    options: SqliteCacheStoreOptions = {},
  ) {
    this.#health = options.health ?? consoleHealth();
    migrate(db, "cache", CACHE_MIGRATIONS);
    // A cache may lose its last entries on a power cut; it must never make a request wait on fsync.
    db.run("PRAGMA synchronous = OFF");
    this.#stored = new Set(db.query<{ key: string }, [number]>("SELECT key FROM cache WHERE expires_at > ?").all(Date.now()).map((row) => row.key));
    // Writes run on the request thread: a lock held by another process fails them at once (see neverWaitForLocks).
    neverWaitForLocks(db);
    this.#get = db.query("SELECT expires_at, created_at, status, step, headers, body FROM cache WHERE key = ? AND expires_at > ?");
    this.#put = db.query(
      `INSERT INTO cache (key, expires_at, created_at, status, step, headers, body) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at, created_at = excluded.created_at,
         status = excluded.status, step = excluded.step, headers = excluded.headers, body = excluded.body`,
    );
    this.#delete = db.query("DELETE FROM cache WHERE key = ?");
    this.#purge = db.query("DELETE FROM cache WHERE expires_at <= ? RETURNING key");
    this.#writeAll = db.transaction((entries: [string, CacheEntry][]) => {
      for (const [key, entry] of entries) {
        this.#put.run(key, entry.expiresAt, entry.createdAt, entry.status, entry.step, JSON.stringify(entry.headers), entry.body);
      }
    });
  }

  async get(key: string, now = Date.now()): Promise<CacheEntry | null> {
    const queued = this.#pending.get(key);
    if (queued) return queued.expiresAt > now ? queued : null;
    if (!this.#stored.has(key)) return null;
    try {
      const row = this.#get.get(key, now);
      if (!row) return null;
      return { status: row.status, headers: JSON.parse(row.headers), body: row.body, step: row.step, createdAt: row.created_at, expiresAt: row.expires_at };
    } catch (error) {
      this.#health.fault("cache", error, { during: "reading a cached answer" });
      return null;
    }
  }

  async put(key: string, entry: CacheEntry): Promise<void> {
    this.#pending.delete(key);
    this.#pending.set(key, entry);
    this.#stored.add(key);
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), WRITE_DELAY_MS);
      this.#timer.unref();
    }
  }

  async delete(key: string): Promise<boolean> {
    const queued = this.#pending.delete(key);
    // Forgotten here even if the row cannot be deleted: this process never serves it again.
    this.#stored.delete(key);
    try {
      return this.#delete.run(key).changes > 0 || queued;
    } catch (error) {
      this.#health.fault("cache", error, { during: "deleting a cached answer" });
      throw error;
    }
  }

  /** Deletes expired rows; resolves 0 when the file refuses (reported to `health`), never rejects. */
  async purgeExpired(now = Date.now()): Promise<number> {
    this.flush();
    try {
      const purged = this.#purge.all(now);
      for (const { key } of purged) this.#stored.delete(key);
      return purged.length;
    } catch (error) {
      this.#health.fault("cache", error, { during: "purging expired answers" });
      return 0;
    }
  }

  /** Commits every queued entry now, in one transaction. Never throws: see the class. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pending.size === 0) return;
    const entries = [...this.#pending];
    this.#pending = new Map();
    try {
      this.#writeAll(entries);
      this.#health.recovered("cache");
    } catch (error) {
      // The transaction rolled back: none of these has a row, so no read may go looking for one. (An
      // older row of the same key may remain; forgetting it too only costs a miss.)
      for (const [key] of entries) this.#stored.delete(key);
      this.#health.fault("cache", error, { during: "writing cached answers" });
    }
  }

  /** Commits what is queued and closes the file. */
  close(): void {
    this.flush();
    this.db.close();
  }
}

/**
 * The cache's own SQLite file beside the main one: `data/switchboard.db` → `data/switchboard.cache.db`.
 * Keeping it apart means cache writes on the request thread never wait for the log writer's lock.
 */
export function cacheFile(sqlite: string): string {
  if (sqlite === ":memory:") return sqlite;
  return sqlite.endsWith(".db") ? `${sqlite.slice(0, -3)}.cache.db` : `${sqlite}.cache`;
}
