import type { Database, Statement } from "bun:sqlite";
import type { Health } from "../../pipeline/types.ts";
import { consoleHealth } from "../../server/health.ts";
import { MemoryVectorIndex, type MemoryVectorIndexOptions } from "../memory/vectors.ts";
import type { VectorIndex, VectorMatch } from "../vectors.ts";
import { migrate, neverWaitForLocks } from "./db.ts";

/** Append only: `migrate` applies the entries a file has not seen yet. */
const VECTOR_MIGRATIONS = [
  `CREATE TABLE cache_vectors (
    partition TEXT NOT NULL,
    key TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (partition, key)
  );
  CREATE INDEX cache_vectors_expires_at ON cache_vectors (expires_at);`,
];

interface VectorRow {
  partition: string;
  key: string;
  expires_at: number;
  vector: Uint8Array;
}

/** Options of {@link SqliteVectorIndex}: the in-memory bounds, and where faults go. */
export interface SqliteVectorIndexOptions extends Omit<MemoryVectorIndexOptions, "onDrop"> {
  /** Where failed writes and loads are reported, as component `"semantic-cache"`. @default `consoleHealth()` */
  health?: Health;
  /** The clock that decides which rows are loaded at start. @default Date.now */
  now?: () => number;
}

/**
 * The default `VectorIndex`: vectors as Float32 blobs in a `cache_vectors` table of the cache's SQLite
 * file (see `cacheFile`), loaded at start, oldest first, into a {@link MemoryVectorIndex} that answers
 * every search. Rows follow memory: a vector evicted, expired or deleted there is deleted here.
 * Writes run on the completion path (never while a client waits); a write the file refuses is a fault
 * of `"semantic-cache"` in `health`, and the vector then lives in memory only, until a restart.
 *
 * @example
 * const vectors = new SqliteVectorIndex(openDatabase(cacheFile(config.storage.sqlite)), { health });
 */
export class SqliteVectorIndex implements VectorIndex {
  readonly #memory: MemoryVectorIndex;
  readonly #put: Statement<unknown, [string, string, number, Uint8Array]>;
  readonly #delete: Statement<unknown, [string, string]>;
  readonly #purge: Statement<unknown, [number]>;
  readonly #health: Health;

  constructor(
    private readonly db: Database,
    options: SqliteVectorIndexOptions = {},
  ) {
    this.#health = options.health ?? consoleHealth();
    migrate(db, "cache_vectors", VECTOR_MIGRATIONS);
    // Like the cache: losing the last vectors on a power cut is fine, waiting on fsync is not.
    db.run("PRAGMA synchronous = OFF");
    // INSERT OR REPLACE gives a replaced vector a new rowid, so loading by rowid is oldest first.
    this.#put = db.query("INSERT OR REPLACE INTO cache_vectors (partition, key, expires_at, vector) VALUES (?, ?, ?, ?)");
    this.#delete = db.query("DELETE FROM cache_vectors WHERE partition = ? AND key = ?");
    this.#purge = db.query("DELETE FROM cache_vectors WHERE expires_at <= ?");
    this.#memory = new MemoryVectorIndex({ ...options, onDrop: (partition, key) => this.#deleteRow(partition, key) });
    this.#load((options.now ?? Date.now)());
    // Writes run on the request thread: a lock held by another process fails them at once (see neverWaitForLocks).
    neverWaitForLocks(db);
  }

  nearest(partition: string, vector: Float32Array, now = Date.now()): Promise<VectorMatch | null> {
    return this.#memory.nearest(partition, vector, now);
  }

  async add(partition: string, key: string, vector: Float32Array, expiresAt: number): Promise<void> {
    await this.#memory.add(partition, key, vector, expiresAt);
    try {
      this.#put.run(partition, key, expiresAt, new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
      this.#health.recovered("semantic-cache");
    } catch (error) {
      this.#health.fault("semantic-cache", error, { during: "writing a prompt vector" });
    }
  }

  async delete(partition: string, key: string): Promise<boolean> {
    const had = await this.#memory.delete(partition, key);
    this.#deleteRow(partition, key);
    return had;
  }

  /** Deletes expired vectors from memory and the file; never rejects (a refused delete is reported to `health`). */
  async purgeExpired(now = Date.now()): Promise<number> {
    const purged = await this.#memory.purgeExpired(now);
    try {
      this.#purge.run(now);
    } catch (error) {
      this.#health.fault("semantic-cache", error, { during: "purging expired prompt vectors" });
    }
    return purged;
  }

  /** Vectors held now (for tests and health output). */
  get size(): number {
    return this.#memory.size;
  }

  close(): void {
    this.db.close();
  }

  #load(now: number): void {
    try {
      this.#purge.run(now);
      const rows = this.db.query<VectorRow, [number]>("SELECT partition, key, expires_at, vector FROM cache_vectors WHERE expires_at > ? ORDER BY rowid").all(now);
      for (const row of rows) {
        if (row.vector.byteLength % 4 !== 0) continue;
        // A copy: the blob's bytes need not be 4-byte aligned.
        const vector = new Float32Array(new Uint8Array(row.vector).buffer);
        void this.#memory.add(row.partition, row.key, vector, row.expires_at);
      }
    } catch (error) {
      this.#health.fault("semantic-cache", error, { during: "loading prompt vectors" });
    }
  }

  #deleteRow(partition: string, key: string): void {
    try {
      this.#delete.run(partition, key);
    } catch (error) {
      this.#health.fault("semantic-cache", error, { during: "deleting a prompt vector" });
    }
  }
}
