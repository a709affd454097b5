import { describe, expect, test } from "bun:test";
import { GatewayHealth } from "../../src/server/health.ts";
import { openPostgres, type PostgresDatabase } from "../../src/store/postgres/db.ts";
import { PostgresLogStore, type PostgresLogStoreOptions } from "../../src/store/postgres/logs.ts";
import { globToRegex } from "../../src/store/postgres/log-reads.ts";
import { migrate, schemaVersions } from "../../src/store/postgres/migrate.ts";
import { SCHEMA } from "../../src/store/postgres/schema.ts";
import type { LogQuery } from "../../src/store/types.ts";
import { makeRecord, memoryLogger } from "../logs/records.ts";
import { postgres } from "../support/engines.ts";

/**
 * What only a shared, networked store has to get right: several replicas on one database, two of them
 * migrating at once, and PostgreSQL going away and coming back while logs keep arriving.
 */

const pg = await postgres();

/** Where makeRecord puts its logs (from 2026-01-01, a second apart), in day buckets. */
const MONTH = { startMs: Date.UTC(2026, 0, 1), endMs: Date.UTC(2026, 1, 1), bucket: "day" } as const;

const everything: LogQuery = { page: 1, perPage: 1000, orderBy: "created_at", direction: "asc", filters: [] };

/** A replica's log store on `url`, with a health whose faults end at the first success. */
async function replica(url: string, options: Partial<PostgresLogStoreOptions> = {}, timeoutMs = 5000) {
  const logger = memoryLogger();
  const health = new GatewayHealth(logger, { settleMs: 0 });
  const db = await openPostgres(url, { timeoutMs });
  const store = new PostgresLogStore(db, { logger, health, retry: { minDelayMs: 20, maxDelayMs: 200 }, ...options });
  return {
    store,
    health,
    logger,
    db,
    async [Symbol.asyncDispose]() {
      await store.close();
    },
  };
}

/** Polls `condition` (each turn yields to the event loop) until it holds, up to `ms`. */
async function until(condition: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Stops PostgreSQL for `body`, and always starts it again. */
async function whileStopped<T>(body: () => Promise<T>): Promise<T> {
  await pg!.stop();
  try {
    return await body();
  } finally {
    await pg!.start();
  }
}

const countLogs = async (db: PostgresDatabase) => Number((await db.sql<{ n: string }[]>`SELECT count(*) AS n FROM logs`)[0].n);

describe.skipIf(!pg)("PostgresLogStore across replicas", () => {
  test("two replicas on one database both write; either one's query sees both", async () => {
    const url = await pg!.database();
    await using a = await replica(url);
    await using b = await replica(url);
    const fromA = [makeRecord({ provider: "openai" }), makeRecord({ provider: "openai" })];
    const fromB = [makeRecord({ provider: "anthropic" })];
    for (const r of fromA) a.store.append(r);
    for (const r of fromB) b.store.append(r);
    await Promise.all([a.store.flush(), b.store.flush()]);
    const expected = [...fromA, ...fromB].map((r) => r.logId).sort();
    expect((await a.store.list("default", everything)).rows.map((r) => r.id).sort()).toEqual(expected);
    expect((await b.store.list("default", everything)).rows.map((r) => r.id).sort()).toEqual(expected);
    const analytics = await b.store.analytics("default", { ...MONTH, groupBy: "provider" });
    expect(analytics.groups?.map((g) => [g.key, g.requests])).toEqual([
      ["openai", 2],
      ["anthropic", 1],
    ]);
  });

  test("two replicas migrating a fresh database at the same moment both succeed; the schema is applied once", async () => {
    const url = await pg!.database();
    const a = new Bun.SQL(url, { max: 2 });
    const b = new Bun.SQL(url, { max: 2 });
    try {
      const [stepsA, stepsB] = await Promise.all([migrate(a), migrate(b)]);
      const applied = [stepsA, stepsB].sort((x, y) => y.length - x.length);
      expect(applied).toEqual([
        [
          { concern: "logs", from: 0, to: SCHEMA.logs.length },
          { concern: "tokens", from: 0, to: SCHEMA.tokens.length },
        ],
        [],
      ]);
      expect(await schemaVersions(a)).toEqual({ logs: SCHEMA.logs.length, tokens: SCHEMA.tokens.length });
      expect(await migrate(a)).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("a database migrated by a newer Switchboard is refused, not touched", async () => {
    const url = await pg!.database();
    const sql = new Bun.SQL(url, { max: 1 });
    try {
      await migrate(sql);
      await sql`UPDATE schema_migrations SET version = 99 WHERE concern = 'logs'`;
      await expect(openPostgres(url)).rejects.toThrow(/"logs" schema is at version 99, newer than this binary's/);
    } finally {
      await sql.close();
    }
  });
});

describe.skipIf(!pg)("PostgresLogStore when PostgreSQL goes away", () => {
  test("a restart in the middle of appends loses nothing; the same store writes on afterwards", async () => {
    const url = await pg!.database();
    await using r = await replica(url, { flushIntervalMs: 5, batchSize: 20 });
    const records = Array.from({ length: 400 }, () => makeRecord());
    for (const record of records.slice(0, 200)) r.store.append(record);
    const restarting = pg!.restart();
    // Appends go on while the server stops and starts again.
    for (const record of records.slice(200)) {
      r.store.append(record);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await restarting;
    await until(() => r.store.stats.written === records.length);
    expect(r.store.stats.dropped).toBe(0);
    expect(await countLogs(r.db)).toBe(records.length);
    expect((await r.store.list("default", everything)).rows.map((row) => row.id).sort()).toEqual(records.map((x) => x.logId).sort());
    expect(r.store.retrying).toBe(0);
    expect(r.health.snapshot().faults).toEqual([]);
  });

  test("while PostgreSQL is stopped, append stays instant and flush returns within the timeout with the records held; start() writes them", async () => {
    const url = await pg!.database();
    await using r = await replica(url, {}, 300);
    const records = Array.from({ length: 50 }, () => makeRecord());
    await whileStopped(async () => {
      const appending = performance.now();
      for (const record of records) expect(r.store.append(record)).toBeUndefined();
      expect(performance.now() - appending).toBeLessThan(200);
      const flushing = performance.now();
      await r.store.flush();
      expect(performance.now() - flushing).toBeLessThan(2000);
      expect([r.store.buffered, r.store.stats.written, r.store.stats.dropped]).toEqual([50, 0, 0]);
      await until(() => r.store.retrying === 50);
      expect(r.health.snapshot().faults).toEqual([expect.objectContaining({ component: "logs", reason: expect.stringMatching(/^writing logs to PostgreSQL: /) })]);
      // A read cannot be answered: 503, within the pool's deadlines.
      await expect(r.store.list("default", everything)).rejects.toMatchObject({ status: 503 });
    });
    await until(() => r.store.stats.written === 50);
    expect([r.store.buffered, r.store.retrying, r.store.stats.dropped]).toEqual([0, 0, 0]);
    expect((await r.store.list("default", everything)).total).toBe(50);
    expect(r.health.snapshot().faults).toEqual([]);
  });

  test("past logBuffer, records are dropped, counted and reported; the ones held are written later", async () => {
    const url = await pg!.database();
    await using r = await replica(url, { logBuffer: 5 }, 300);
    const records = Array.from({ length: 8 }, () => makeRecord());
    await whileStopped(async () => {
      for (const record of records) r.store.append(record);
      expect([r.store.buffered, r.store.stats.dropped]).toEqual([5, 3]);
      expect(r.health.snapshot().faults).toContainEqual(expect.objectContaining({ component: "logs", reason: "buffering logs: LOG_BUFFER_FULL", count: 3 }));
    });
    await r.store.flush();
    await until(() => r.store.stats.written === 5);
    expect((await r.store.list("default", everything)).rows.map((row) => row.id)).toEqual(records.slice(0, 5).map((x) => x.logId));
  });

  test("close while PostgreSQL is away gives up after closeTimeoutMs and counts what it held as lost", async () => {
    const url = await pg!.database();
    const r = await replica(url, { closeTimeoutMs: 300 }, 300);
    await whileStopped(async () => {
      for (let i = 0; i < 3; i++) r.store.append(makeRecord());
      const closing = performance.now();
      await r.store.close();
      expect(performance.now() - closing).toBeLessThan(3000);
    });
    expect(r.store.stats.dropped).toBe(3);
    expect(r.logger.errors).toContain("3 logs could not be written to PostgreSQL before closing; lost");
  });
});

describe.skipIf(!pg)("PostgresLogStore and hostile input", () => {
  test("a group_by metadata key is bound, never spliced into the SQL", async () => {
    const url = await pg!.database();
    await using r = await replica(url);
    r.store.append(makeRecord({ metadata: { "a'b": "quoted" } }));
    r.store.append(makeRecord({ metadata: { user: "ada" } }));
    const analytics = await r.store.analytics("default", { ...MONTH, groupBy: "metadata.a'b" });
    expect(analytics.groups?.map((g) => [g.key, g.requests])).toEqual([
      [null, 1],
      ["quoted", 1],
    ]);
    const dropped = await r.store.analytics("default", { ...MONTH, groupBy: "metadata.x'); DROP TABLE logs; --" });
    expect(dropped.totals.requests).toBe(2);
    expect(await countLogs(r.db)).toBe(2);
  });

  test("text PostgreSQL cannot hold (NUL) and over-long model names are stored, not dropped", async () => {
    const url = await pg!.database();
    await using r = await replica(url);
    const record = makeRecord({ model: `m${"é".repeat(600)}`, userAgent: "agent\0x", metadata: { "k\0": "v\0" } });
    r.store.append(record);
    const log = await r.store.get("default", record.logId);
    expect(r.store.stats).toEqual({ batches: 1, written: 1, dropped: 0 });
    expect(Buffer.byteLength(log!.model!)).toBeLessThanOrEqual(512);
    expect(log!.model!.startsWith("méé")).toBe(true);
    expect([log!.user_agent, log!.metadata]).toEqual(["agent\uFFFDx", '{"k\uFFFD":"v\uFFFD"}']);
  });
});

describe.skipIf(!pg)("budget globs in PostgreSQL", () => {
  test("match as the budget plugin's: * any run, ? one character, everything else literally", async () => {
    const sql = new Bun.SQL(await pg!.database(), { max: 1 });
    try {
      const cases: [string, string, boolean][] = [
        ["@cf/meta/*", "@cf/meta/llama-3.1-8b-instruct", true],
        ["@cf/meta/*", "@cf/mistral/x", false],
        ["gpt-4o?", "gpt-4ox", true],
        ["gpt-4o?", "gpt-4o", false],
        ["gpt-4.1", "gpt-4x1", false],
        ["a+b(c)[d]{2}|^$\\", "a+b(c)[d]{2}|^$\\", true],
        ["claude-*", "claude-sonnet-4-5", true],
        ["claude-*", "xclaude-sonnet", false],
        ["é*", "éa", true],
      ];
      for (const [glob, text, matches] of cases) {
        const [row] = await sql<{ ok: boolean }[]>`SELECT ${text}::text ~ ${globToRegex(glob)}::text AS ok`;
        expect({ glob, text, ok: row.ok }).toEqual({ glob, text, ok: matches });
      }
    } finally {
      await sql.close();
    }
  });
});
