import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, GatewayError } from "../../src/pipeline/errors.ts";
import { openDatabase } from "../../src/store/sqlite/db.ts";
import { SqliteLogStore, type SqliteLogStoreOptions } from "../../src/store/sqlite/logs.ts";
import type { LogFilter, LogQuery } from "../../src/store/types.ts";
import { makeRecord, memoryLogger, side, tempDir } from "./records.ts";

function openStore(options: Partial<SqliteLogStoreOptions> = {}) {
  const dir = tempDir();
  const file = join(dir.path, "nested", "switchboard.db");
  const logger = memoryLogger();
  const store = new SqliteLogStore(openDatabase(file), { logger, ...options });
  /** A second connection, to see what really reached the file. */
  const count = (table = "logs") => {
    const peek = new Database(file, { readonly: true });
    try {
      return peek.query<{ n: number }, []>(`SELECT COUNT(*) AS n FROM ${table}`).get()?.n ?? 0;
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

const ids = async (store: SqliteLogStore, filters: LogFilter[], extra: Partial<LogQuery> = {}) =>
  (await store.list("default", query({ filters, ...extra }))).rows.map((r) => r.id);

describe("writing", () => {
  test("append only queues; flush writes; get returns the whole log with heads and attempts", async () => {
    await using s = openStore();
    const record = makeRecord({
      logId: "01JLOG0000000000000000000A",
      eventId: "evt-a",
      createdAt: Date.UTC(2026, 4, 2, 3, 4, 5, 6),
      metadata: { user: "ada", tier: 2 },
      tokenId: "tok_1",
      usage: { tokensIn: 100, tokensOut: 20, cacheReadTokens: 40, cacheWriteTokens: 5 },
      request: side({ q: 1 }, "application/json", { "x-trace": "t1" }),
    });
    s.store.append(record);
    expect(s.count()).toBe(0);
    await s.store.flush();
    expect(s.count()).toBe(1);
    expect(await s.store.get("default", record.logId)).toEqual({
      id: "01JLOG0000000000000000000A",
      created_at: "2026-05-02T03:04:05.006Z",
      gateway_id: "default",
      provider: "openai",
      model: "gpt-4o-mini",
      path: "chat/completions",
      method: "POST",
      status_code: 200,
      success: true,
      cached: false,
      step: 0,
      duration: 120,
      time_to_first_byte: 80,
      tokens_in: 100,
      tokens_out: 20,
      cached_tokens_in: 40,
      cache_write_tokens_in: 5,
      cost: 0.001,
      custom_cost: false,
      metadata: JSON.stringify({ user: "ada", tier: 2 }),
      event_id: "evt-a",
      request_type: "provider",
      request_content_type: "application/json",
      response_content_type: "application/json",
      request_size: record.request.size,
      response_size: record.response.size,
      user_agent: "openai-node/5",
      token_id: "tok_1",
      feedback: null,
      score: null,
      error_code: null,
      error_message: null,
      aborted: false,
      request_head: JSON.stringify({ "content-type": "application/json", "x-trace": "t1" }),
      request_head_complete: true,
      response_head: JSON.stringify({ "content-type": "application/json" }),
      response_head_complete: true,
      request_body_truncated: false,
      response_body_truncated: false,
      attempts: record.attempts,
    });
    expect(new TextDecoder().decode((await s.store.payload("default", record.logId, "request"))?.body ?? undefined)).toBe('{"q":1}');
  });

  test("the timer writes a queued record without anyone calling flush", async () => {
    await using s = openStore({ flushIntervalMs: 1 });
    s.store.append(makeRecord());
    while (s.store.stats.written === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(s.count()).toBe(1);
  });

  test("records with collectLog=false are not stored", async () => {
    await using s = openStore();
    s.store.append(makeRecord({ collectLog: false }));
    await s.store.flush();
    expect(s.count()).toBe(0);
  });

  test("collectPayload=false stores the log but no heads or bodies", async () => {
    await using s = openStore();
    const record = makeRecord({ collectPayload: false });
    s.store.append(record);
    await s.store.flush();
    expect(s.count("log_payloads")).toBe(0);
    const log = await s.store.get("default", record.logId);
    expect(log).toMatchObject({ request_head: "{}", request_head_complete: false, response_head: "{}", response_head_complete: false });
    expect(log?.request_size).toBe(record.request.size);
    expect(await s.store.payload("default", record.logId, "response")).toEqual({ contentType: "application/json", body: null });
    expect(await s.store.payload("default", "missing", "response")).toBeNull();
  });

  test("a truncated body is flagged", async () => {
    await using s = openStore();
    const record = makeRecord({ response: { ...side('{"partial'), truncated: true } });
    s.store.append(record);
    expect(await s.store.get("default", record.logId)).toMatchObject({ request_body_truncated: false, response_body_truncated: true });
  });

  test("2,000 appends are written in a handful of transactions", async () => {
    await using s = openStore();
    for (let i = 0; i < 2000; i++) s.store.append(makeRecord());
    await s.store.flush();
    expect(s.count()).toBe(2000);
    expect(s.store.stats.written).toBe(2000);
    expect(s.store.stats.batches).toBeLessThanOrEqual(8);
  });

  test("reaching the batch size writes without waiting for the interval", async () => {
    await using s = openStore({ batchSize: 10, flushIntervalMs: 60_000 });
    for (let i = 0; i < 10; i++) s.store.append(makeRecord());
    while (s.store.stats.written === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    expect(s.store.stats).toEqual({ batches: 1, written: 10, dropped: 0 });
  });

  test("a record that cannot be stored is dropped and logged; the rest of its batch is written", async () => {
    await using s = openStore();
    const poisoned = makeRecord({ metadata: { big: 1n as unknown as number } });
    s.store.append(makeRecord());
    s.store.append(poisoned);
    s.store.append(makeRecord());
    await s.store.flush();
    expect(s.count()).toBe(2);
    expect(s.store.stats.dropped).toBe(1);
    expect(s.logger.errors).toContain(`log ${poisoned.logId} could not be stored`);
  });

  test("close flushes what is queued; the file reopens with every log", async () => {
    using dir = tempDir();
    const file = join(dir.path, "logs.db");
    const store = new SqliteLogStore(openDatabase(file), { logger: memoryLogger() });
    for (let i = 0; i < 3; i++) store.append(makeRecord());
    await store.close();
    const reopened = new SqliteLogStore(openDatabase(file), { logger: memoryLogger() });
    expect((await reopened.list("default", query())).total).toBe(3);
    await reopened.close();
  });
});

describe("the writer thread", () => {
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

  test("a batch the database refuses is retried record by record; only the bad record is dropped and reported", async () => {
    await using s = openStore();
    const bad = makeRecord({ provider: null as unknown as string });
    s.store.append(makeRecord());
    s.store.append(bad);
    s.store.append(makeRecord());
    await s.store.flush();
    expect(s.count()).toBe(2);
    expect(s.store.stats).toEqual({ batches: 2, written: 2, dropped: 1 });
    expect(s.logger.errors).toEqual([`writing 3 logs in one transaction failed; retrying them one by one`, `log ${bad.logId} could not be stored`]);
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

describe("listing", () => {
  const seed = () => {
    const s = openStore();
    const records = [
      makeRecord({ logId: "A", provider: "openai", model: "gpt-4o", status: 200, durationMs: 100, cost: 0.5, metadata: { user: "ada", plan: "pro" } }),
      makeRecord({
        logId: "B",
        provider: "anthropic",
        model: "claude-sonnet",
        status: 429,
        success: false,
        durationMs: 300,
        cost: null,
        usage: { tokensIn: null, tokensOut: null, cacheReadTokens: 0, cacheWriteTokens: 0 },
        metadata: { user: "bob", beta: true },
        userAgent: "anthropic-sdk",
      }),
      makeRecord({ logId: "C", provider: "openai", model: "gpt-4o-mini", cached: true, cost: 0, durationMs: 5, requestType: "universal", eventId: "evt-shared" }),
      makeRecord({
        logId: "D",
        provider: "workers-ai",
        model: null,
        durationMs: 900,
        cost: 2,
        usage: { tokensIn: 1000, tokensOut: 500, cacheReadTokens: 0, cacheWriteTokens: 0 },
        metadata: { tier: 3 },
        response: side("data: hi\n\n", "text/event-stream"),
      }),
      makeRecord({ logId: "E", gatewayId: "other", provider: "openai" }),
    ];
    for (const r of records) s.store.append(r);
    return { ...s, created: Object.fromEntries(records.map((r) => [r.logId, r.createdAt])) };
  };

  test.each<[string, LogFilter, string[]]>([
    ["id eq", { key: "id", operator: "eq", value: ["B"] }, ["B"]],
    ["provider eq with two values (OR)", { key: "provider", operator: "eq", value: ["anthropic", "workers-ai"] }, ["B", "D"]],
    ["provider neq with two values (neither)", { key: "provider", operator: "neq", value: ["anthropic", "workers-ai"] }, ["A", "C"]],
    ["model contains", { key: "model", operator: "contains", value: ["gpt"] }, ["A", "C"]],
    ["model eq null", { key: "model", operator: "eq", value: [null] }, ["D"]],
    ["model neq keeps null models", { key: "model", operator: "neq", value: ["gpt-4o"] }, ["B", "C", "D"]],
    ["model_type eq null matches every log", { key: "model_type", operator: "eq", value: [null] }, ["A", "B", "C", "D"]],
    ["success eq false (string)", { key: "success", operator: "eq", value: ["false"] }, ["B"]],
    ["cached eq true", { key: "cached", operator: "eq", value: [true] }, ["C"]],
    ["cached neq true", { key: "cached", operator: "neq", value: ["true"] }, ["A", "B", "D"]],
    ["status_code gt", { key: "status_code", operator: "gt", value: ["399"] }, ["B"]],
    ["event_id eq", { key: "event_id", operator: "eq", value: ["evt-shared"] }, ["C"]],
    ["request_type eq", { key: "request_type", operator: "eq", value: ["universal"] }, ["C"]],
    ["response_content_type contains", { key: "response_content_type", operator: "contains", value: ["event-stream"] }, ["D"]],
    ["request_content_type eq", { key: "request_content_type", operator: "eq", value: ["application/json"] }, ["A", "B", "C", "D"]],
    ["cost lt", { key: "cost", operator: "lt", value: [1] }, ["A", "C"]],
    ["cost gt (string)", { key: "cost", operator: "gt", value: ["0.1"] }, ["A", "D"]],
    ["cost eq null", { key: "cost", operator: "eq", value: [null] }, ["B"]],
    ["tokens = in + out", { key: "tokens", operator: "gt", value: [100] }, ["D"]],
    ["tokens_in gt", { key: "tokens_in", operator: "gt", value: [10] }, ["D"]],
    ["tokens_out lt", { key: "tokens_out", operator: "lt", value: [100] }, ["A", "C"]],
    ["duration lt or gt", { key: "duration", operator: "lt", value: [10, 150] }, ["A", "C"]],
    ["feedback eq null", { key: "feedback", operator: "eq", value: [null] }, ["A", "B", "C", "D"]],
    ["user_agent contains", { key: "user_agent", operator: "contains", value: ["anthropic"] }, ["B"]],
    ["metadata.key eq", { key: "metadata.key", operator: "eq", value: ["user"] }, ["A", "B"]],
    ["metadata.key neq", { key: "metadata.key", operator: "neq", value: ["user"] }, ["C", "D"]],
    ["metadata.key contains", { key: "metadata.key", operator: "contains", value: ["ti"] }, ["D"]],
    ["metadata.value eq string", { key: "metadata.value", operator: "eq", value: ["bob"] }, ["B"]],
    ["metadata.value eq number as text", { key: "metadata.value", operator: "eq", value: ["3"] }, ["D"]],
    ["metadata.value eq boolean", { key: "metadata.value", operator: "eq", value: [true] }, ["B"]],
    ["metadata.value contains", { key: "metadata.value", operator: "contains", value: ["A"] }, ["A"]],
    ["metadata.value neq", { key: "metadata.value", operator: "neq", value: ["ada"] }, ["B", "C", "D"]],
  ])("filter %s", async (_name, filter, expected) => {
    await using s = seed();
    expect(await ids(s.store, [filter])).toEqual(expected);
  });

  test("created_at takes ISO dates and epoch milliseconds", async () => {
    await using s = seed();
    const iso = new Date(s.created.B).toISOString();
    expect(await ids(s.store, [{ key: "created_at", operator: "gt", value: [iso] }])).toEqual(["C", "D"]);
    expect(await ids(s.store, [{ key: "created_at", operator: "lt", value: [s.created.B] }])).toEqual(["A"]);
    expect(await ids(s.store, [{ key: "created_at", operator: "eq", value: [String(s.created.C)] }])).toEqual(["C"]);
  });

  test("filters combine with AND, metadata key and value included", async () => {
    await using s = seed();
    const filters: LogFilter[] = [
      { key: "metadata.key", operator: "eq", value: ["user"] },
      { key: "metadata.value", operator: "eq", value: ["ada", "bob"] },
      { key: "success", operator: "eq", value: [true] },
    ];
    expect(await ids(s.store, filters)).toEqual(["A"]);
  });

  test("search looks at model, provider, path, event id and metadata", async () => {
    await using s = seed();
    expect(await ids(s.store, [], { search: "claude" })).toEqual(["B"]);
    expect(await ids(s.store, [], { search: "workers" })).toEqual(["D"]);
    expect(await ids(s.store, [], { search: "evt-shared" })).toEqual(["C"]);
    expect(await ids(s.store, [], { search: "pro" })).toEqual(["A"]);
    expect(await ids(s.store, [], { search: "100%" })).toEqual([]);
  });

  test("orders by any allowed key, both ways, ties broken by insertion order", async () => {
    await using s = seed();
    expect(await ids(s.store, [], { orderBy: "created_at", direction: "desc" })).toEqual(["D", "C", "B", "A"]);
    expect(await ids(s.store, [], { orderBy: "duration", direction: "asc" })).toEqual(["C", "A", "B", "D"]);
    expect(await ids(s.store, [], { orderBy: "cost", direction: "desc" })).toEqual(["D", "A", "C", "B"]);
    expect(await ids(s.store, [], { orderBy: "provider", direction: "asc" })).toEqual(["B", "A", "C", "D"]);
    expect(await ids(s.store, [], { orderBy: "status_code", direction: "desc" })).toEqual(["B", "D", "C", "A"]);
  });

  test("pages through the gateway's logs with a total", async () => {
    await using s = seed();
    const first = await s.store.list("default", query({ perPage: 3, page: 1 }));
    const second = await s.store.list("default", query({ perPage: 3, page: 2 }));
    const beyond = await s.store.list("default", query({ perPage: 3, page: 3 }));
    expect([first.rows.map((r) => r.id), first.total]).toEqual([["A", "B", "C"], 4]);
    expect([second.rows.map((r) => r.id), second.total]).toEqual([["D"], 4]);
    expect([beyond.rows, beyond.total]).toEqual([[], 4]);
    expect((await s.store.list("other", query())).rows.map((r) => r.id)).toEqual(["E"]);
  });

  test.each<[string, LogFilter | null, string, RegExp]>([
    ["unknown key", { key: "colour", operator: "eq", value: ["red"] }, "created_at", /Unknown filter key "colour"; allowed keys: id, created_at/],
    ["operator the key does not take", { key: "provider", operator: "lt", value: ["a"] }, "created_at", /"lt" is not allowed for filter key "provider"; allowed operators: eq, neq, contains/],
    ["non-boolean", { key: "success", operator: "eq", value: ["maybe"] }, "created_at", /"success" expects true or false/],
    ["non-number", { key: "cost", operator: "gt", value: ["cheap"] }, "created_at", /"cost" expects a number/],
    ["bad date", { key: "created_at", operator: "gt", value: ["yesterday"] }, "created_at", /ISO 8601/],
    ["no value", { key: "model", operator: "eq", value: [] }, "created_at", /needs at least one value/],
    ["unknown order_by", null, "path", /Unknown order_by "path"/],
  ])("rejects %s with 400 BadRequest", async (_name, filter, orderBy, message) => {
    await using s = seed();
    let caught: unknown;
    try {
      await s.store.list("default", query({ filters: filter ? [filter] : [], orderBy }));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect(caught).toMatchObject({ status: 400, code: ErrorCode.BadRequest });
    expect((caught as Error).message).toMatch(message);
  });
});

describe("changing and removing logs", () => {
  test("patch sets feedback and score, merges metadata, and null clears", async () => {
    await using s = openStore();
    const record = makeRecord({ metadata: { user: "ada" } });
    s.store.append(record);
    expect(await s.store.patch("default", record.logId, { feedback: 1, score: 90, metadata: { rating: "good", user: "ada2" } })).toBe(true);
    expect(await s.store.get("default", record.logId)).toMatchObject({ feedback: 1, score: 90, metadata: '{"user":"ada2","rating":"good"}' });
    expect(await s.store.patch("default", record.logId, { feedback: null, metadata: null })).toBe(true);
    expect(await s.store.get("default", record.logId)).toMatchObject({ feedback: null, score: 90, metadata: null });
    expect(await s.store.patch("default", record.logId, {})).toBe(true);
    expect(await s.store.patch("default", "nope", { score: 1 })).toBe(false);
    expect(await s.store.patch("other-gateway", record.logId, { score: 1 })).toBe(false);
  });

  test("delete removes the matching logs and their payloads", async () => {
    await using s = openStore();
    for (const provider of ["openai", "openai", "anthropic"]) s.store.append(makeRecord({ provider }));
    s.store.append(makeRecord({ gatewayId: "other" }));
    expect(await s.store.delete("default", [{ key: "provider", operator: "eq", value: ["openai"] }])).toBe(2);
    expect(s.count()).toBe(2);
    expect(s.count("log_payloads")).toBe(2);
    expect(await s.store.delete("default", [])).toBe(1);
    expect((await s.store.list("other", query())).total).toBe(1);
  });

  test("delete with a limit takes the first matches in the given order", async () => {
    await using s = openStore();
    const records = [50, 10, 30, 20].map((durationMs) => makeRecord({ durationMs }));
    for (const r of records) s.store.append(r);
    expect(await s.store.delete("default", [], { limit: 2, orderBy: "duration", direction: "desc" })).toBe(2);
    expect((await ids(s.store, [])).sort()).toEqual([records[1].logId, records[3].logId].sort());
    expect(await s.store.delete("default", [], { limit: 1 })).toBe(1);
    expect(await ids(s.store, [])).toEqual([records[3].logId]);
  });

  test("prune by rows keeps the newest", async () => {
    await using s = openStore();
    const records = Array.from({ length: 10 }, () => makeRecord());
    for (const r of records) s.store.append(r);
    s.store.append(makeRecord({ gatewayId: "other" }));
    expect(await s.store.prune("default", { maxRows: 4 })).toBe(6);
    expect(await ids(s.store, [])).toEqual(records.slice(6).map((r) => r.logId));
    expect(s.count("log_payloads")).toBe(5);
    expect(await s.store.prune("default", { maxRows: 4 })).toBe(0);
  });

  test("prune by age deletes what is older than maxAgeDays", async () => {
    await using s = openStore();
    const now = Date.now();
    const old = makeRecord({ createdAt: now - 3 * 86_400_000 });
    const recent = makeRecord({ createdAt: now - 3_600_000 });
    s.store.append(old);
    s.store.append(recent);
    expect(await s.store.prune("default", { maxAgeDays: 2 })).toBe(1);
    expect(await ids(s.store, [])).toEqual([recent.logId]);
  });

  test("the retention callback prunes the gateways a batch wrote to", async () => {
    await using s = openStore({ retention: (id) => (id === "default" ? { maxRows: 3 } : undefined) });
    for (let i = 0; i < 5; i++) s.store.append(makeRecord());
    for (let i = 0; i < 5; i++) s.store.append(makeRecord({ gatewayId: "other" }));
    await s.store.flush();
    expect((await s.store.list("default", query())).total).toBe(3);
    expect((await s.store.list("other", query())).total).toBe(5);
  });

  test("pruneAll applies each gateway's policy", async () => {
    await using s = openStore({ retention: () => ({ maxRows: 1 }), pruneIntervalMs: 60_000 });
    // The first batch prunes at once; fill the gateways afterwards, inside the quiet period.
    s.store.append(makeRecord());
    await s.store.flush();
    for (let i = 0; i < 3; i++) s.store.append(makeRecord({ gatewayId: "a" }));
    for (let i = 0; i < 3; i++) s.store.append(makeRecord({ gatewayId: "b" }));
    await s.store.flush();
    expect(s.count()).toBe(7);
    expect(await s.store.pruneAll(["a", "b"])).toBe(4);
    expect(s.count()).toBe(3);
  });
});
