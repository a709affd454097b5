import type { Database, Statement } from "bun:sqlite";
import type { CacheEntry, CacheStore } from "../cache.ts";
import { migrate } from "./db.ts";

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

/**
 * The default `CacheStore`: a `cache` table in the shared SQLite file, so entries survive a restart.
 * Reads and writes are synchronous (bun:sqlite) and wrapped in resolved Promises.
 *
 * @example
 * const cache = new SqliteCacheStore(openDatabase(config.storage.sqlite));
 */
export class SqliteCacheStore implements CacheStore {
  readonly #get: Statement<CacheRow, [string, number]>;
  readonly #put: Statement<unknown, PutParams>;
  readonly #delete: Statement<unknown, [string]>;
  readonly #purge: Statement<unknown, [number]>;

  constructor(db: Database) {
    migrate(db, "cache", CACHE_MIGRATIONS);
    this.#get = db.query("SELECT expires_at, created_at, status, step, headers, body FROM cache WHERE key = ? AND expires_at > ?");
    this.#put = db.query(
      `INSERT INTO cache (key, expires_at, created_at, status, step, headers, body) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at, created_at = excluded.created_at,
         status = excluded.status, step = excluded.step, headers = excluded.headers, body = excluded.body`,
    );
    this.#delete = db.query("DELETE FROM cache WHERE key = ?");
    this.#purge = db.query("DELETE FROM cache WHERE expires_at <= ?");
  }

  async get(key: string, now = Date.now()): Promise<CacheEntry | null> {
    const row = this.#get.get(key, now);
    if (!row) return null;
    return { status: row.status, headers: JSON.parse(row.headers), body: row.body, step: row.step, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  async put(key: string, entry: CacheEntry): Promise<void> {
    this.#put.run(key, entry.expiresAt, entry.createdAt, entry.status, entry.step, JSON.stringify(entry.headers), entry.body);
  }

  async delete(key: string): Promise<boolean> {
    return this.#delete.run(key).changes > 0;
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    return this.#purge.run(now).changes;
  }
}
