import { Database } from "bun:sqlite";
import { join } from "node:path";
import { openPostgres } from "../../src/store/postgres/db.ts";
import { PostgresLogStore, type PostgresLogStoreOptions } from "../../src/store/postgres/logs.ts";
import { openDatabase } from "../../src/store/sqlite/db.ts";
import { SqliteLogStore, type SqliteLogStoreOptions } from "../../src/store/sqlite/logs.ts";
import { memoryLogger, tempDir } from "../logs/records.ts";
import { postgres } from "../support/engines.ts";
import type { LogStoreTestOptions, OpenedLogStore } from "./log-store-contract.ts";

/**
 * The log stores the contract runs against: a SQLite file in a temp dir, and PostgreSQL (one database
 * per test file, emptied before each store opens, since tests in a file run one after another).
 */

const TABLES = { logs: "logs", log_payloads: "log_payloads" } as const;

/** A SQLite store on a fresh file; `count` reads the file over a second, read-only connection. */
export async function openSqliteLogStore(options: LogStoreTestOptions & Partial<SqliteLogStoreOptions> = {}): Promise<OpenedLogStore> {
  const dir = tempDir();
  const file = join(dir.path, "nested", "switchboard.db");
  const logger = memoryLogger();
  let store = new SqliteLogStore(openDatabase(file), { logger, ...options });
  return {
    get store() {
      return store;
    },
    logger,
    async count(table = "logs") {
      const peek = new Database(file, { readonly: true });
      try {
        return peek.query<{ n: number }, []>(`SELECT COUNT(*) AS n FROM ${TABLES[table]}`).get()?.n ?? 0;
      } finally {
        peek.close();
      }
    },
    async reopen() {
      await store.close();
      store = new SqliteLogStore(openDatabase(file), { logger: memoryLogger() });
      return store;
    },
    async [Symbol.asyncDispose]() {
      await store.close();
      dir[Symbol.dispose]();
    },
  };
}

let database: Promise<string> | undefined;

/** This test file's PostgreSQL database (created on first use), or null without PostgreSQL. */
export async function postgresDatabase(): Promise<string | null> {
  const pg = await postgres();
  if (!pg) return null;
  database ??= pg.database();
  return database;
}

/**
 * A PostgreSQL store on this file's database, emptied first. Its pool waits up to 5 s without progress
 * in `flush()` (the default is `storage.timeout`, 250 ms): tests share a busy machine.
 */
export async function openPostgresLogStore(options: LogStoreTestOptions & Partial<PostgresLogStoreOptions> = {}): Promise<OpenedLogStore> {
  const url = await postgresDatabase();
  if (!url) throw new Error("PostgreSQL is not available");
  const db = await openPostgres(url, { timeoutMs: 5000 });
  await db.sql`TRUNCATE logs, log_payloads RESTART IDENTITY`;
  const logger = memoryLogger();
  let store = new PostgresLogStore(db, { logger, ...options });
  const peek = new Bun.SQL(url, { max: 1 });
  return {
    get store() {
      return store;
    },
    logger,
    async count(table = "logs") {
      const [row] = await peek.unsafe<{ n: string }[]>(`SELECT count(*) AS n FROM ${TABLES[table]}`);
      return Number(row?.n ?? 0);
    },
    async reopen() {
      await store.close();
      store = new PostgresLogStore(await openPostgres(url, { timeoutMs: 5000 }), { logger: memoryLogger() });
      return store;
    },
    async [Symbol.asyncDispose]() {
      await store.close();
      await peek.close();
    },
  };
}
