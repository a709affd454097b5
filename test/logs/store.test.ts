import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../src/store/sqlite/db.ts";
import { SqliteLogStore, type SqliteLogStoreOptions } from "../../src/store/sqlite/logs.ts";
import type { LogQuery } from "../../src/store/types.ts";
import { postgres } from "../support/engines.ts";
import { logStoreContract } from "../store/log-store-contract.ts";
import { openPostgresLogStore, openSqliteLogStore } from "../store/log-store-engines.ts";
import { makeRecord, memoryLogger, tempDir } from "./records.ts";

// The same contract for every engine: the same records in, the same answers out.
describe("SqliteLogStore", () => logStoreContract(openSqliteLogStore));
describe.skipIf(!(await postgres()))("PostgresLogStore", () => logStoreContract(openPostgresLogStore));

/** A SQLite store whose file the test can reach (the writer-thread tests drop marker files next to it). */
function openStore(options: Partial<SqliteLogStoreOptions> = {}) {
  const dir = tempDir();
  const file = join(dir.path, "nested", "switchboard.db");
  const logger = memoryLogger();
  const store = new SqliteLogStore(openDatabase(file), { logger, ...options });
  const count = () => {
    const peek = new Database(file, { readonly: true });
    try {
      return peek.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM logs").get()?.n ?? 0;
    } finally {
      peek.close();
    }
  };
  return {
    store,
    file,
    logger,
    count,
    async [Symbol.asyncDispose]() {
      await store.close();
      dir[Symbol.dispose]();
    },
  };
}

const query = (overrides: Partial<LogQuery> = {}): LogQuery => ({
  page: 1,
  perPage: 50,
  orderBy: "created_at",
  direction: "asc",
  filters: [],
  ...overrides,
});

describe("SqliteLogStore: the writer thread", () => {
  const changesOf = (db: Database) => db.query<{ n: number }, []>("SELECT total_changes() AS n").get()?.n ?? 0;

  test("batches are written by its own connection: the request thread's connection changes nothing", async () => {
    using dir = tempDir();
    const db = openDatabase(join(dir.path, "logs.db"));
    const store = new SqliteLogStore(db, { logger: memoryLogger() });
    const before = changesOf(db);
    for (let i = 0; i < 5; i++) store.append(makeRecord());
    await store.flush();
    expect([(await store.list("default", query())).total, changesOf(db) - before]).toEqual([5, 0]);
    await store.close();
  });

  test("a :memory: database is written on the request thread, with the same guarantees", async () => {
    const db = openDatabase(":memory:");
    const store = new SqliteLogStore(db, { logger: memoryLogger(), retention: () => ({ maxRows: 2 }) });
    const records = [makeRecord(), makeRecord({ collectPayload: false }), makeRecord()];
    for (const r of records) store.append(r);
    expect((await store.list("default", query())).rows.map((r) => r.id)).toEqual(records.slice(1).map((r) => r.logId));
    expect(await store.get("default", records[1].logId)).toMatchObject({ request_head_complete: false });
    expect(store.stats).toEqual({ batches: 1, written: 3, dropped: 0 });
    await store.close();
  });

  test("a writer thread that dies is restarted; the batch and the prune it did not answer are done by the new one", async () => {
    await using s = openStore({ writerEntry: join(import.meta.dir, "crashing-writer.ts") });
    writeFileSync(`${s.file}.crash-once`, "");
    for (let i = 0; i < 3; i++) s.store.append(makeRecord());
    expect(await s.store.prune("default", { maxRows: 2 })).toBe(1);
    expect(s.count()).toBe(2);
    s.store.append(makeRecord());
    await s.store.flush();
    expect([s.count(), s.store.stats.written]).toEqual([3, 4]);
    expect(s.logger.errors).toEqual(["the log writer thread stopped (exit code 7); restarting it"]);
  });

  test("a writer thread that keeps dying is given up for writes on the request thread; nothing is lost", async () => {
    await using s = openStore({ writerEntry: join(import.meta.dir, "crashing-writer.ts") });
    writeFileSync(`${s.file}.crash-always`, "");
    for (let i = 0; i < 3; i++) s.store.append(makeRecord());
    await s.store.flush();
    expect(s.count()).toBe(3);
    expect(s.logger.errors.at(-1)).toBe("the log writer thread stopped (exit code 7) 4 times within a minute; writing logs on the request thread from now on");
    s.store.append(makeRecord());
    expect((await s.store.list("default", query())).total).toBe(4);
  });
});
