import { describe, expect, test } from "bun:test";
import type { Statement } from "bun:sqlite";
import { join } from "node:path";
import type { Metadata, RequestRecord } from "../../src/pipeline/record.ts";
import { migrate, openDatabase } from "../../src/store/sqlite/db.ts";
import { logAnalytics } from "../../src/store/sqlite/log-analytics.ts";
import { LOG_METADATA_MIGRATIONS, LogMetadataRollup } from "../../src/store/sqlite/log-metadata.ts";
import { BatchBuilder, type WriterReply } from "../../src/store/sqlite/log-messages.ts";
import { INSERT_LOG_SQL, LOG_MIGRATIONS, logParams, logValues } from "../../src/store/sqlite/log-rows.ts";
import { LogWriter } from "../../src/store/sqlite/log-writes.ts";
import { SqliteLogStore } from "../../src/store/sqlite/logs.ts";
import type { AnalyticsGroup } from "../../src/store/types.ts";
import { makeRecord, memoryLogger, tempDir } from "./records.ts";

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const HOUR = 60 * MIN;
const usage = (tokensIn: number | null, tokensOut: number | null) => ({ tokensIn, tokensOut, cacheReadTokens: 0, cacheWriteTokens: 0 });

/**
 * The metadata rollup (src/store/sqlite/log-metadata.ts) against a reference computed here from the
 * records themselves, through every way a log changes. Ranges on whole hours read the rollup; the
 * others read their partial hours from the logs, so both are checked.
 */
describe("group_by=metadata.<key> over the metadata rollup", () => {
  const G = "meta";
  type Stored = { createdAt: number; metadata: Metadata | null; success: boolean; cached: boolean; tokensIn: number | null; tokensOut: number | null; cost: number | null };

  /** What the API answers for `key` over `[from, to)`, computed from `logs` without SQL. */
  function reference(logs: Map<string, Stored>, key: string, from: number, to: number): AnalyticsGroup[] {
    const groups = new Map<string | null, AnalyticsGroup>();
    for (const log of logs.values()) {
      if (log.createdAt < from || log.createdAt >= to) continue;
      const value = log.metadata?.[key];
      // SQLite's JSON functions give booleans as 1/0; the API has always shown them so.
      const name = value === undefined ? null : typeof value === "boolean" ? (value ? "1" : "0") : String(value);
      let group = groups.get(name);
      if (!group) groups.set(name, (group = { key: name, requests: 0, errors: 0, tokens_in: 0, tokens_out: 0, cost: 0 }));
      group.requests++;
      group.errors += log.success ? 0 : 1;
      group.tokens_in += log.tokensIn ?? 0;
      group.tokens_out += log.tokensOut ?? 0;
      group.cost += log.cached ? 0 : (log.cost ?? 0);
    }
    return [...groups.values()]
      .map((g) => ({ ...g, cost: Math.round(g.cost * 1e10) / 1e10 }))
      .sort((a, b) => b.requests - a.requests || String(a.key).localeCompare(String(b.key)));
  }

  /**
   * A store on a file with the rollup, and what the reference needs to know of its logs. `fold()` does,
   * from a second connection, what the log writer does in each batch's transaction. (Once SqliteLogStore
   * applies LOG_METADATA_MIGRATIONS and LogWriter folds, the `migrate` here is a no-op and `fold()` finds
   * nothing new.)
   */
  async function rollupStore(dir: { path: string }) {
    const path = join(dir.path, "logs.db");
    const db = openDatabase(path);
    const store = new SqliteLogStore(db, { logger: memoryLogger() });
    migrate(db, "log_metadata", LOG_METADATA_MIGRATIONS);
    const writer = openDatabase(path);
    const rollup = new LogMetadataRollup(writer);
    const insert: Statement = writer.prepare(INSERT_LOG_SQL);
    const logs = new Map<string, Stored>();
    const remember = (record: RequestRecord) => {
      const { createdAt, success, cached, usage, cost } = record;
      const metadata = Object.keys(record.metadata).length > 0 ? record.metadata : null;
      logs.set(record.logId, { createdAt, metadata, success, cached, tokensIn: usage.tokensIn, tokensOut: usage.tokensOut, cost });
      return record.logId;
    };
    return {
      store,
      db,
      logs,
      append(overrides: Partial<RequestRecord>) {
        const record = makeRecord({ gatewayId: G, ...overrides });
        store.append(record);
        return remember(record);
      },
      /** A row written straight into `logs`, with no fold: what an older binary or a bulk import leaves. */
      insertUnfolded(overrides: Partial<RequestRecord>) {
        const record = makeRecord({ gatewayId: G, ...overrides });
        insert.run(logParams(logValues(record)));
        return remember(record);
      },
      async fold() {
        await store.flush();
        rollup.fold();
      },
      async groups(key: string, from: number, to: number) {
        return (await store.analytics(G, { startMs: from, endMs: to, bucket: "hour", groupBy: `metadata.${key}` })).groups;
      },
      /** Logs of the gateway not counted in the rollup yet. */
      unfolded: () => db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM logs WHERE rowid > (SELECT last_rowid FROM log_metadata_folded)").get()!.n,
      async [Symbol.asyncDispose]() {
        writer.close();
        await store.close();
      },
    };
  }

  /** Ranges on whole hours, off the hour, and inside one hour. */
  const ranges = [
    [T0, T0 + 4 * HOUR],
    [T0 + HOUR, T0 + 3 * HOUR],
    [T0 + 7 * MIN, T0 + 3 * HOUR + 52 * MIN],
    [T0 + 59 * MIN, T0 + 2 * HOUR + MIN],
    [T0 + 10 * MIN, T0 + 50 * MIN],
  ];
  const cost = (n: number) => n / 1024; // binary fractions: sums are exact in any order

  test("strings, numbers and booleans group by their value; logs without the key make the null group", async () => {
    using dir = tempDir();
    await using s = await rollupStore(dir);
    const plans: (Metadata | undefined)[] = [{ plan: "pro" }, { plan: "pro" }, { plan: 42 }, { plan: 1.5 }, { plan: true }, { plan: false }, { other: "x" }, undefined];
    plans.forEach((metadata, i) => s.append({ createdAt: T0 + i * 20 * MIN, metadata: metadata ?? {}, usage: usage(10 * (i + 1), i), cost: cost(i + 1) }));
    await s.fold();
    const expected = [
      { key: null, requests: 2, errors: 0, tokens_in: 150, tokens_out: 13, cost: cost(15) },
      { key: "pro", requests: 2, errors: 0, tokens_in: 30, tokens_out: 1, cost: cost(3) },
      { key: "0", requests: 1, errors: 0, tokens_in: 60, tokens_out: 5, cost: cost(6) },
      { key: "1", requests: 1, errors: 0, tokens_in: 50, tokens_out: 4, cost: cost(5) },
      { key: "1.5", requests: 1, errors: 0, tokens_in: 40, tokens_out: 3, cost: cost(4) },
      { key: "42", requests: 1, errors: 0, tokens_in: 30, tokens_out: 2, cost: cost(3) },
    ];
    expect(await s.groups("plan", T0, T0 + 3 * HOUR)).toEqual(expected);
    expect(await s.groups("plan", T0 - 30 * MIN, T0 + 150 * MIN + 1)).toEqual(expected);
    expect(await s.groups("plan", T0 + 30 * MIN, T0 + 150 * MIN)).toEqual(reference(s.logs, "plan", T0 + 30 * MIN, T0 + 150 * MIN));
  });

  test("a key with quotes and dots is one key, not a path", async () => {
    using dir = tempDir();
    await using s = await rollupStore(dir);
    s.append({ createdAt: T0, metadata: { 'say "hi".v2': "yes" } });
    s.append({ createdAt: T0 + 90 * MIN, metadata: { 'say "hi".v2': "yes", say: "no" } });
    s.append({ createdAt: T0 + 100 * MIN, metadata: { 'say "hi"': "nested?" } });
    await s.fold();
    for (const [from, to] of [[T0, T0 + 2 * HOUR], [T0 + MIN / 2, T0 + 2 * HOUR]]) {
      expect(await s.groups('say "hi".v2', from, to)).toEqual(reference(s.logs, 'say "hi".v2', from, to));
    }
    expect(((await s.groups('say "hi".v2', T0, T0 + 2 * HOUR)) ?? []).map((g) => [g.key, g.requests])).toEqual([["yes", 2], [null, 1]]);
  });

  test("a PATCH of the metadata moves the log to its new group; metadata: null moves it to the null group", async () => {
    using dir = tempDir();
    await using s = await rollupStore(dir);
    const ids = [0, 1, 2, 3].map((i) => s.append({ createdAt: T0 + i * 40 * MIN, metadata: { plan: "free", team: "a" }, usage: usage(i, 1), cost: cost(i) }));
    await s.fold();
    expect(await s.store.patch(G, ids[1], { metadata: { plan: "pro" } })).toBe(true);
    expect(await s.store.patch(G, ids[2], { metadata: null })).toBe(true);
    s.logs.get(ids[1])!.metadata = { plan: "pro", team: "a" };
    s.logs.get(ids[2])!.metadata = null;
    for (const [from, to] of ranges) for (const key of ["plan", "team"]) expect(await s.groups(key, from, to)).toEqual(reference(s.logs, key, from, to));
    expect((await s.groups("plan", T0, T0 + 3 * HOUR))?.map((g) => [g.key, g.requests])).toEqual([["free", 2], [null, 1], ["pro", 1]]);
  });

  test("deleted and pruned logs leave their groups", async () => {
    using dir = tempDir();
    await using s = await rollupStore(dir);
    const ids = Array.from({ length: 12 }, (_, i) => s.append({ createdAt: T0 + i * 20 * MIN, metadata: { user: ["ada", "bob", "cy"][i % 3] }, cost: cost(i) }));
    await s.fold();
    expect(await s.store.delete(G, [{ key: "id", operator: "eq", value: [ids[4], ids[5]] }])).toBe(2);
    expect(await s.store.prune(G, { maxRows: 7 })).toBe(3);
    for (const id of [ids[4], ids[5], ids[0], ids[1], ids[2]]) s.logs.delete(id);
    for (const [from, to] of ranges) expect(await s.groups("user", from, to)).toEqual(reference(s.logs, "user", from, to));
    expect((await s.groups("user", T0, T0 + 4 * HOUR))?.map((g) => [g.key, g.requests])).toEqual([["ada", 3], ["bob", 2], ["cy", 2]]);
  });

  test("logs written without a fold (an older binary, a bulk import) are counted, and folded by the next one", async () => {
    using dir = tempDir();
    await using s = await rollupStore(dir);
    for (let i = 0; i < 8; i++) s.append({ createdAt: T0 + i * 25 * MIN, metadata: { user: i % 2 ? "ada" : "bob" } });
    await s.fold();
    for (let i = 0; i < 8; i++) s.insertUnfolded({ createdAt: T0 + 10 * MIN + i * 25 * MIN, metadata: { user: i % 3 ? "ada" : "cy" } });
    expect(s.unfolded()).toBe(8);
    for (const [from, to] of ranges) expect(await s.groups("user", from, to)).toEqual(reference(s.logs, "user", from, to));
    await s.fold();
    expect(s.unfolded()).toBe(0);
    for (const [from, to] of ranges) expect(await s.groups("user", from, to)).toEqual(reference(s.logs, "user", from, to));
  });

  test("once every log is deleted, the new ones (whose rowids start over) are folded", async () => {
    using dir = tempDir();
    await using s = await rollupStore(dir);
    for (let i = 0; i < 5; i++) s.append({ createdAt: T0 + i * 30 * MIN, metadata: { user: "ada" } });
    await s.fold();
    expect(await s.store.delete(G, [])).toBe(5);
    s.logs.clear();
    for (let i = 0; i < 3; i++) s.append({ createdAt: T0 + i * 30 * MIN, metadata: { user: "bob" } });
    await s.fold();
    expect(s.unfolded()).toBe(0);
    expect(await s.groups("user", T0, T0 + 3 * HOUR)).toEqual([{ key: "bob", requests: 3, errors: 0, tokens_in: 30, tokens_out: 15, cost: 0.003 }]);
  });

  test("a log written again under its id counts once, in its latest version", async () => {
    using dir = tempDir();
    const db = openDatabase(join(dir.path, "logs.db"));
    migrate(db, "logs", LOG_MIGRATIONS);
    migrate(db, "log_metadata", LOG_METADATA_MIGRATIONS);
    // The log writer itself, on this connection, fed encoded batches as the writer thread is.
    const replies: WriterReply[] = [];
    const writer = new LogWriter(db, (reply) => void replies.push(reply), 60_000);
    const writeBatch = (records: RequestRecord[]) => {
      const batch = new BatchBuilder();
      for (const record of records) batch.add(record);
      writer.handle({ kind: "batch", seq: replies.length + 1, ...batch.take() });
    };
    const first = makeRecord({ gatewayId: G, createdAt: T0, metadata: { user: "ada" } });
    writeBatch([first, makeRecord({ gatewayId: G, createdAt: T0 + MIN, metadata: { user: "ada" } })]);
    writeBatch([{ ...first, metadata: { user: "bob" } }]);
    // Twice in one batch: the later one is kept.
    writeBatch([{ ...first, metadata: { user: "cy" } }, { ...first, metadata: { user: "dee" } }]);
    expect(replies.map((reply) => reply.kind)).toEqual(["done", "done", "done"]);
    const groups = logAnalytics(db, G, { startMs: T0, endMs: T0 + HOUR, bucket: "hour", groupBy: "metadata.user" }).groups;
    expect(groups?.map((g) => [g.key, g.requests])).toEqual([["ada", 1], ["dee", 1]]);
    const provider = logAnalytics(db, G, { startMs: T0, endMs: T0 + HOUR, bucket: "hour", groupBy: "provider" }).groups;
    expect(provider?.map((g) => [g.key, g.requests])).toEqual([["openai", 2]]);
    db.close();
  });

  test("the migration folds the logs already stored", async () => {
    using dir = tempDir();
    const path = join(dir.path, "logs.db");
    const before = new SqliteLogStore(openDatabase(path), { logger: memoryLogger() });
    for (let i = 0; i < 6; i++) before.append(makeRecord({ gatewayId: G, createdAt: T0 + i * 30 * MIN, metadata: { team: i < 4 ? "search" : "infra" } }));
    await before.close();
    const db = openDatabase(path);
    migrate(db, "log_metadata", LOG_METADATA_MIGRATIONS);
    expect(db.query<{ n: number }, []>("SELECT SUM(requests) AS n FROM log_metadata_hours WHERE substr(key, 1, 1) <> char(1)").get()!.n).toBe(6);
    // Provider and model are folded too, under their reserved keys: every log has a provider.
    expect(db.query<{ n: number }, []>("SELECT SUM(requests) AS n FROM log_metadata_hours WHERE key = char(1) || 'provider'").get()!.n).toBe(6);
    const groups = logAnalytics(db, G, { startMs: T0, endMs: T0 + 3 * HOUR, bucket: "hour", groupBy: "metadata.team" }).groups;
    expect(groups?.map((g) => [g.key, g.requests])).toEqual([["search", 4], ["infra", 2]]);
    db.close();
  });

  test("stays equal to the logs through a mix of appends, folds, patches, deletes and prunes", async () => {
    using dir = tempDir();
    await using s = await rollupStore(dir);
    let seed = 19;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
    const users = ["ada", "bob", "cy", 7, true, undefined] as const;
    const metadataOf = (user: (typeof users)[number]): Metadata => (user === undefined ? { team: "x" } : { user, team: pick(["x", "y"]) });
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 40; i++) {
        const failed = random() < 0.2;
        s.append({
          createdAt: T0 + Math.floor(random() * 4 * HOUR),
          metadata: random() < 0.1 ? {} : metadataOf(pick(users)),
          success: !failed,
          cached: !failed && random() < 0.2,
          usage: failed ? usage(null, null) : usage(Math.floor(random() * 100), Math.floor(random() * 50)),
          cost: failed ? null : cost(Math.floor(random() * 64)),
        });
      }
      if (round % 2 === 0) await s.fold();
      const ids = [...s.logs.keys()];
      for (let i = 0; i < 5; i++) {
        const id = pick(ids);
        const metadata = metadataOf(pick(users));
        await s.store.patch(G, id, { metadata });
        const log = s.logs.get(id)!;
        log.metadata = { ...log.metadata, ...metadata };
      }
      const doomed = [pick(ids), pick(ids)].filter((id, i, all) => all.indexOf(id) === i && s.logs.has(id));
      expect(await s.store.delete(G, [{ key: "id", operator: "eq", value: doomed }])).toBe(doomed.length);
      for (const id of doomed) s.logs.delete(id);
      if (round === 3) {
        const kept = [...s.logs].sort(([a, x], [b, y]) => x.createdAt - y.createdAt || (a < b ? -1 : 1)).slice(-100);
        expect(await s.store.prune(G, { maxRows: 100 })).toBe(s.logs.size - 100);
        s.logs.clear();
        for (const [id, log] of kept) s.logs.set(id, log);
      }
      for (const [from, to] of ranges) for (const key of ["user", "team"]) expect(await s.groups(key, from, to)).toEqual(reference(s.logs, key, from, to));
    }
    await s.fold();
    expect(s.unfolded()).toBe(0);
    for (const [from, to] of ranges) expect(await s.groups("user", from, to)).toEqual(reference(s.logs, "user", from, to));
  });

  test("provider and model groups from the rollup equal a GROUP BY of the logs, through appends, folds, patches, deletes and prunes", async () => {
    using dir = tempDir();
    await using s = await rollupStore(dir);
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
    const byColumn = (column: "provider" | "model", from: number, to: number) => {
      const rows = s.db
        .query<{ key: string | null; requests: number; errors: number; tokens_in: number; tokens_out: number; cost: number }, [string, number, number]>(
          `SELECT ${column} AS key, COUNT(*) AS requests, SUM(success = 0) AS errors, COALESCE(SUM(tokens_in), 0) AS tokens_in,
           COALESCE(SUM(tokens_out), 0) AS tokens_out, TOTAL(CASE WHEN cached = 1 THEN 0 ELSE cost END) AS cost
           FROM logs WHERE gateway_id = ? AND created_at >= ? AND created_at < ? GROUP BY 1`,
        )
        .all(G, from, to);
      return rows.sort((a, b) => b.requests - a.requests || String(a.key).localeCompare(String(b.key)));
    };
    const analytics = async (column: "provider" | "model", from: number, to: number) =>
      (await s.store.analytics(G, { startMs: from, endMs: to, bucket: "hour", groupBy: column })).groups;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 40; i++) {
        const failed = random() < 0.2;
        s.append({
          createdAt: T0 + Math.floor(random() * 4 * HOUR),
          provider: pick(["openai", "anthropic", "groq"]),
          model: pick(["gpt-4o", "claude-sonnet-4-5", "llama", null]),
          success: !failed,
          cached: !failed && random() < 0.2,
          usage: failed ? usage(null, null) : usage(Math.floor(random() * 100), Math.floor(random() * 50)),
          cost: failed ? null : cost(Math.floor(random() * 64)),
        });
      }
      if (round % 2 === 0) await s.fold();
      await s.store.patch(G, pick([...s.logs.keys()]), { metadata: { team: "moved" } });
      const doomed = [...s.logs.keys()].filter(() => random() < 0.05);
      await s.store.delete(G, [{ key: "id", operator: "eq", value: doomed }]);
      for (const id of doomed) s.logs.delete(id);
      if (round === 2) await s.store.prune(G, { maxRows: 80 });
      await s.store.flush();
      for (const [from, to] of ranges) {
        for (const column of ["provider", "model"] as const) {
          const expected = byColumn(column, from, to).map((g) => ({ ...g, cost: Math.round(g.cost * 1e10) / 1e10 }));
          expect({ column, from, to, groups: await analytics(column, from, to) }).toEqual({ column, from, to, groups: expected });
        }
      }
    }
  });
});
