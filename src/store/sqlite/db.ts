import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Layout of the bookkeeping itself (the `schema_versions` table). `PRAGMA user_version` carries it, so a
 * binary that finds a newer layout refuses the file instead of corrupting it. Each store's own schema
 * is versioned per concern in `schema_versions`, because stores (logs, cache, counters, tokens) share
 * one file and evolve independently.
 */
const BOOKKEEPING_VERSION = 1;

/** How long a connection waits for another one's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Page size of a new file (an existing one keeps its own: in WAL mode it is fixed once the file has
 * content). Log rows with their payloads are written at a high rate; with 16 KiB pages the log writer
 * spends ~25% less CPU per record than with SQLite's default 4 KiB (fewer WAL frames, syscalls and page
 * splits per byte), measured on this machine with typical chat-completion records.
 */
const PAGE_SIZE = 16384;

/**
 * Opens (creating it and its folder if needed) the SQLite file every SQLite-backed store shares:
 * WAL journal, `synchronous=NORMAL` (durable across process crashes, at most the last commits lost on
 * power loss), a busy timeout, and the migration bookkeeping table.
 *
 * @param path a file path, or `:memory:`
 * @example
 * const db = openDatabase(config.storage.sqlite);
 * const logs = new SqliteLogStore(db, { logger });
 */
export function openDatabase(path: string): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, strict: true });
  db.run(`PRAGMA page_size = ${PAGE_SIZE}`);
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  const found = db.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version ?? 0;
  if (found > BOOKKEEPING_VERSION) {
    db.close();
    throw new Error(`${path} was written by a newer Switchboard (schema format ${found}, this binary knows ${BOOKKEEPING_VERSION})`);
  }
  db.run("CREATE TABLE IF NOT EXISTS schema_versions (concern TEXT PRIMARY KEY, version INTEGER NOT NULL)");
  db.run(`PRAGMA user_version = ${BOOKKEEPING_VERSION}`);
  return db;
}

/**
 * Makes `db` fail at once with SQLITE_BUSY when another connection holds the write lock, instead of
 * waiting up to the busy timeout. For the connections the request thread writes through (the cache
 * file): that thread is the file's only writer and its writes are synchronous, so a lock there is
 * another process's (a backup, a `sqlite3` shell, a second gateway on the same path), and waiting on
 * it would stall every request for 5 s at each write. A refused write is a fault in `health` and a
 * lost cache entry, never a delay. Call it after migrating: opening may still wait.
 *
 * @example
 * migrate(db, "cache", CACHE_MIGRATIONS);
 * neverWaitForLocks(db);
 */
export function neverWaitForLocks(db: Database): void {
  db.run("PRAGMA busy_timeout = 0");
}

/**
 * Brings one concern's schema up to date. `migrations[i]` moves the concern from version `i` to
 * `i + 1`; each entry may hold several statements. Already applied entries are skipped, so only ever
 * append to the list. Everything runs in one transaction: a failing migration leaves the file as it was.
 *
 * @returns the concern's version after migrating (= `migrations.length`)
 * @example
 * migrate(db, "logs", ["CREATE TABLE logs (...); CREATE INDEX ...", "ALTER TABLE logs ADD COLUMN x"]);
 */
export function migrate(db: Database, concern: string, migrations: readonly string[]): number {
  const current = db.query<{ version: number }, [string]>("SELECT version FROM schema_versions WHERE concern = ?");
  const apply = db.transaction(() => {
    const version = current.get(concern)?.version ?? 0;
    if (version > migrations.length) {
      throw new Error(`the "${concern}" schema is at version ${version}, newer than this binary's ${migrations.length}`);
    }
    for (let i = version; i < migrations.length; i++) db.run(migrations[i]);
    db.run("INSERT INTO schema_versions (concern, version) VALUES (?, ?) ON CONFLICT (concern) DO UPDATE SET version = excluded.version", [
      concern,
      migrations.length,
    ]);
    return migrations.length;
  });
  return apply.immediate();
}
