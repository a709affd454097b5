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
  // Rebuilt as an append-only rowid table without a key index (see the class): the live rows are copied
  // over, and the table keeps its name for anyone who reads the file with `sqlite3`.
  `CREATE TABLE cache_rows (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    status INTEGER NOT NULL,
    step INTEGER NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL
  );
  INSERT INTO cache_rows (key, expires_at, created_at, status, step, headers, body)
    SELECT key, expires_at, created_at, status, step, headers, body FROM cache WHERE expires_at > strftime('%s', 'now') * 1000;
  DROP TABLE cache;
  ALTER TABLE cache_rows RENAME TO cache;
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
 * Rows are appended under an autoassigned rowid and found through `#ids` (a number standing for the
 * key, see `slotOf` → rowid, loaded at open),
 * with no index on the key: keys are hashes, so a key index takes each insert to a random page of a
 * growing B-tree and every commit rewrites many of them (≈ 12.7 µs of request-thread CPU per entry,
 * against ≈ 3 µs appended). A re-put key deletes its old row and appends a new one. Another process
 * writing the same file (a second gateway on the path) is only seen after a restart, as before, and a
 * row it changed under a known rowid is at worst a miss: reads and deletes also check the key.
 *
 * Nothing here ever throws out of a timer: a write the file refuses (disk full, I/O error) is a fault of
 * the `"cache"` component in `health`, and its entries are simply not cached. A read that fails is a miss.
 *
 * @example
 * const cache = new SqliteCacheStore(openDatabase(cacheFile(config.storage.sqlite)));
 */
export class SqliteCacheStore implements CacheStore {
  readonly #get: Statement<CacheRow, [number, string, number]>;
  readonly #put: Statement<unknown, PutParams>;
  readonly #delete: Statement<unknown, [number, string]>;
  readonly #purge: Statement<{ id: number; key: string }, [number]>;
  readonly #writeAll: (entries: [string, CacheEntry][]) => void;
  #pending = new Map<string, CacheEntry>();
  /** The row of each key this process knows, so a miss — most lookups of a busy cache — costs no database read. */
  readonly #ids = new Map<number, number>();
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
    // A key written twice by two processes has two rows: the later (higher rowid) one wins.
    for (const { id, key } of db.query<{ id: number; key: string }, [number]>("SELECT id, key FROM cache WHERE expires_at > ? ORDER BY id").iterate(Date.now())) {
      this.#ids.set(slotOf(key), id);
    }
    // Writes run on the request thread: a lock held by another process fails them at once (see neverWaitForLocks).
    neverWaitForLocks(db);
    // `key = ?` costs nothing once the row is found, and keeps a rowid that another process freed and reused from serving another key.
    this.#get = db.query("SELECT expires_at, created_at, status, step, headers, body FROM cache WHERE id = ? AND key = ? AND expires_at > ?");
    this.#put = db.query("INSERT INTO cache (key, expires_at, created_at, status, step, headers, body) VALUES (?, ?, ?, ?, ?, ?, ?)");
    this.#delete = db.query("DELETE FROM cache WHERE id = ? AND key = ?");
    this.#purge = db.query("DELETE FROM cache WHERE expires_at <= ? RETURNING id, key");
    this.#writeAll = db.transaction((entries: [string, CacheEntry][]) => {
      for (const [key, entry] of entries) {
        const slot = slotOf(key);
        const old = this.#ids.get(slot);
        if (old !== undefined) this.#delete.run(old, key);
        const { lastInsertRowid } = this.#put.run(key, entry.expiresAt, entry.createdAt, entry.status, entry.step, JSON.stringify(entry.headers), entry.body);
        this.#ids.set(slot, Number(lastInsertRowid));
      }
    });
  }

  async get(key: string, now = Date.now()): Promise<CacheEntry | null> {
    const queued = this.#pending.get(key);
    if (queued) return queued.expiresAt > now ? queued : null;
    const id = this.#ids.get(slotOf(key));
    if (id === undefined) return null;
    try {
      const row = this.#get.get(id, key, now);
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
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), WRITE_DELAY_MS);
      this.#timer.unref();
    }
  }

  async delete(key: string): Promise<boolean> {
    const queued = this.#pending.delete(key);
    const slot = slotOf(key);
    const id = this.#ids.get(slot);
    if (id === undefined) return queued;
    try {
      const deleted = this.#delete.run(id, key).changes > 0;
      // A row of another key on the same slot did not match: that key keeps its place.
      if (deleted) this.#ids.delete(slot);
      return deleted || queued;
    } catch (error) {
      // Forgotten even though the row could not be deleted: this process never serves it again.
      this.#ids.delete(slot);
      this.#health.fault("cache", error, { during: "deleting a cached answer" });
      throw error;
    }
  }

  /** Deletes expired rows; resolves 0 when the file refuses (reported to `health`), never rejects. */
  async purgeExpired(now = Date.now()): Promise<number> {
    this.flush();
    try {
      const purged = this.#purge.all(now);
      // Only the row this process serves counts: an older row of the key (another process wrote it) may expire first.
      for (const { id, key } of purged) {
        const slot = slotOf(key);
        if (this.#ids.get(slot) === id) this.#ids.delete(slot);
      }
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
      // The transaction rolled back: none of these has a new row, so no read may go looking for one. (An
      // older row of the same key, deleted in the rolled-back transaction, is back; forgetting it too
      // only costs a miss.)
      for (const [key] of entries) this.#ids.delete(slotOf(key));
      this.#health.fault("cache", error, { during: "writing cached answers" });
    }
  }

  /** Commits what is queued and closes the file. */
  close(): void {
    this.flush();
    this.db.close();
  }
}

const HASH_TAIL = /^[0-9a-f]{13}$/;

/**
 * What `#ids` is keyed by: 52 bits of the key's own hash (keys end in SHA-256 hex, see plugins/cache/key.ts),
 * or two checksums of any other key. A number, not the key: an index of millions of 72-character strings
 * is hundreds of MB the garbage collector walks again and again (and the key index has no bound but the
 * TTL); numbers live inside the Map. Two keys on one slot only cost a miss: every read and delete also
 * checks the row's key.
 */
function slotOf(key: string): number {
  const tail = key.slice(-13);
  if (HASH_TAIL.test(tail)) return parseInt(tail, 16);
  return Bun.hash.crc32(key) * 2 ** 21 + (Bun.hash.adler32(key) & 0x1fffff);
}

/**
 * The cache's own SQLite file beside the main one: `data/switchboard.db` → `data/switchboard.cache.db`.
 * Keeping it apart means cache writes on the request thread never wait for the log writer's lock.
 */
export function cacheFile(sqlite: string): string {
  if (sqlite === ":memory:") return sqlite;
  return sqlite.endsWith(".db") ? `${sqlite.slice(0, -3)}.cache.db` : `${sqlite}.cache`;
}
