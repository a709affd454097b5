import { describe, expect, test } from "bun:test";
import { ErrorCode, GatewayError } from "../../src/pipeline/errors.ts";
import type { LogFilter, LogQuery, LogStore, RetentionPolicy } from "../../src/store/types.ts";
import { makeRecord, memoryLogger, side } from "../logs/records.ts";

/**
 * The `LogStore` contract, run by test/logs/store.test.ts against SQLite and PostgreSQL: the same
 * records in, the same answers out (rows, details, payload bytes, filters, order, pages, updates,
 * deletes, retention), and the batching every engine promises.
 */

/** What a store under test takes: the options both engines share. */
export interface LogStoreTestOptions {
  retention?: (gatewayId: string) => RetentionPolicy | undefined;
  flushIntervalMs?: number;
  batchSize?: number;
  pruneIntervalMs?: number;
}

/** A store with the counters and the retention pass both engines have. */
export type ContractLogStore = LogStore & {
  readonly stats: { batches: number; written: number; dropped: number };
  pruneAll(gatewayIds: Iterable<string>): Promise<number>;
};

export interface OpenedLogStore extends AsyncDisposable {
  store: ContractLogStore;
  logger: ReturnType<typeof memoryLogger>;
  /** Rows that really reached the storage, counted over another connection. */
  count(table?: "logs" | "log_payloads"): Promise<number>;
  /** Closes `store` and opens a new one on the same storage. */
  reopen(): Promise<ContractLogStore>;
}

export type OpenLogStore = (options?: LogStoreTestOptions) => Promise<OpenedLogStore>;

const query = (overrides: Partial<LogQuery> = {}): LogQuery => ({
  page: 1,
  perPage: 50,
  orderBy: "created_at",
  direction: "asc",
  filters: [],
  ...overrides,
});

const ids = async (store: LogStore, filters: LogFilter[], extra: Partial<LogQuery> = {}) =>
  (await store.list("default", query({ filters, ...extra }))).rows.map((r) => r.id);

/** Polls `condition` on every turn of the event loop, up to `ms`. */
async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

export function logStoreContract(open: OpenLogStore): void {
  describe("writing", () => {
    test("append only queues; flush writes; get returns the whole log with heads and attempts", async () => {
      await using s = await open({ flushIntervalMs: 60_000 });
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
      expect(await s.count()).toBe(0);
      await s.store.flush();
      expect(await s.count()).toBe(1);
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

    test("payload bodies come back byte for byte, every byte value included", async () => {
      await using s = await open();
      const bytes = Uint8Array.from({ length: 512 }, (_, i) => (i * 7 + 3) % 256);
      const record = makeRecord({ response: { headers: {}, contentType: "application/octet-stream", size: bytes.length, body: bytes, truncated: false } });
      s.store.append(record);
      const payload = await s.store.payload("default", record.logId, "response");
      expect(payload?.contentType).toBe("application/octet-stream");
      expect(payload?.body).toBeInstanceOf(Uint8Array);
      expect([...(payload?.body ?? [])]).toEqual([...bytes]);
    });

    test("the timer writes a queued record without anyone calling flush", async () => {
      await using s = await open({ flushIntervalMs: 1 });
      s.store.append(makeRecord());
      await until(() => s.store.stats.written > 0);
      expect(await s.count()).toBe(1);
    });

    test("records with collectLog=false are not stored", async () => {
      await using s = await open();
      s.store.append(makeRecord({ collectLog: false }));
      await s.store.flush();
      expect(await s.count()).toBe(0);
    });

    test("collectPayload=false stores the log but no heads or bodies", async () => {
      await using s = await open();
      const record = makeRecord({ collectPayload: false });
      s.store.append(record);
      await s.store.flush();
      expect(await s.count("log_payloads")).toBe(0);
      const log = await s.store.get("default", record.logId);
      expect(log).toMatchObject({ request_head: "{}", request_head_complete: false, response_head: "{}", response_head_complete: false });
      expect(log?.request_size).toBe(record.request.size);
      expect(await s.store.payload("default", record.logId, "response")).toEqual({ contentType: "application/json", body: null });
      expect(await s.store.payload("default", "missing", "response")).toBeNull();
    });

    test("a truncated body is flagged", async () => {
      await using s = await open();
      const record = makeRecord({ response: { ...side('{"partial'), truncated: true } });
      s.store.append(record);
      expect(await s.store.get("default", record.logId)).toMatchObject({ request_body_truncated: false, response_body_truncated: true });
    });

    test("2,000 appends are written in a handful of transactions", async () => {
      await using s = await open();
      for (let i = 0; i < 2000; i++) s.store.append(makeRecord());
      await s.store.flush();
      expect(await s.count()).toBe(2000);
      expect(s.store.stats.written).toBe(2000);
      expect(s.store.stats.batches).toBeLessThanOrEqual(8);
    });

    test("reaching the batch size writes without waiting for the interval", async () => {
      await using s = await open({ batchSize: 10, flushIntervalMs: 60_000 });
      for (let i = 0; i < 10; i++) s.store.append(makeRecord());
      await until(() => s.store.stats.written > 0);
      expect(s.store.stats).toEqual({ batches: 1, written: 10, dropped: 0 });
    });

    test("a record that cannot be stored is dropped and logged; the rest of its batch is written", async () => {
      await using s = await open();
      const poisoned = makeRecord({ metadata: { big: 1n as unknown as number } });
      s.store.append(makeRecord());
      s.store.append(poisoned);
      s.store.append(makeRecord());
      await s.store.flush();
      expect(await s.count()).toBe(2);
      expect(s.store.stats.dropped).toBe(1);
      expect(s.logger.errors).toContain(`log ${poisoned.logId} could not be stored`);
    });

    test("a batch the database refuses is retried record by record; only the bad record is dropped and reported", async () => {
      await using s = await open();
      const bad = makeRecord({ provider: null as unknown as string });
      s.store.append(makeRecord());
      s.store.append(bad);
      s.store.append(makeRecord());
      await s.store.flush();
      expect(await s.count()).toBe(2);
      expect(s.store.stats).toEqual({ batches: 2, written: 2, dropped: 1 });
      expect(s.logger.errors).toEqual([`writing 3 logs in one transaction failed; retrying them one by one`, `log ${bad.logId} could not be stored`]);
    });

    test("a record appended twice keeps its latest version", async () => {
      await using s = await open();
      const record = makeRecord({ status: 500, success: false });
      s.store.append(record);
      await s.store.flush();
      s.store.append({ ...record, status: 200, success: true });
      await s.store.flush();
      expect(await s.count()).toBe(1);
      expect(await s.store.get("default", record.logId)).toMatchObject({ status_code: 200, success: true });
    });

    test("close flushes what is queued; the storage reopens with every log", async () => {
      await using s = await open();
      for (let i = 0; i < 3; i++) s.store.append(makeRecord());
      const reopened = await s.reopen();
      expect((await reopened.list("default", query())).total).toBe(3);
    });
  });

  describe("listing", () => {
    const seed = async () => {
      const s = await open();
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
      return Object.assign(s, { created: Object.fromEntries(records.map((r) => [r.logId, r.createdAt])) });
    };

    test.each<[string, LogFilter, string[]]>([
      ["id eq", { key: "id", operator: "eq", value: ["B"] }, ["B"]],
      ["provider eq with two values (OR)", { key: "provider", operator: "eq", value: ["anthropic", "workers-ai"] }, ["B", "D"]],
      ["provider neq with two values (neither)", { key: "provider", operator: "neq", value: ["anthropic", "workers-ai"] }, ["A", "C"]],
      ["model contains", { key: "model", operator: "contains", value: ["gpt"] }, ["A", "C"]],
      ["model contains folds ASCII case", { key: "model", operator: "contains", value: ["GPT-4O-"] }, ["C"]],
      ["model eq is case-sensitive", { key: "model", operator: "eq", value: ["GPT-4o"] }, []],
      ["model eq null", { key: "model", operator: "eq", value: [null] }, ["D"]],
      ["model neq keeps null models", { key: "model", operator: "neq", value: ["gpt-4o"] }, ["B", "C", "D"]],
      ["model_type eq null matches every log", { key: "model_type", operator: "eq", value: [null] }, ["A", "B", "C", "D"]],
      ["success eq false (string)", { key: "success", operator: "eq", value: ["false"] }, ["B"]],
      ["cached eq true", { key: "cached", operator: "eq", value: [true] }, ["C"]],
      ["cached neq true", { key: "cached", operator: "neq", value: ["true"] }, ["A", "B", "D"]],
      ["status_code gt", { key: "status_code", operator: "gt", value: ["399"] }, ["B"]],
      ["status_code gt a fraction", { key: "status_code", operator: "gt", value: [428.5] }, ["B"]],
      ["event_id eq", { key: "event_id", operator: "eq", value: ["evt-shared"] }, ["C"]],
      ["request_type eq", { key: "request_type", operator: "eq", value: ["universal"] }, ["C"]],
      ["response_content_type contains", { key: "response_content_type", operator: "contains", value: ["event-stream"] }, ["D"]],
      ["request_content_type eq", { key: "request_content_type", operator: "eq", value: ["application/json"] }, ["A", "B", "C", "D"]],
      ["cost lt", { key: "cost", operator: "lt", value: [1] }, ["A", "C"]],
      ["cost gt (string)", { key: "cost", operator: "gt", value: ["0.1"] }, ["A", "D"]],
      ["cost eq null", { key: "cost", operator: "eq", value: [null] }, ["B"]],
      ["cost neq keeps null costs", { key: "cost", operator: "neq", value: [0.5] }, ["B", "C", "D"]],
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
      ["metadata.value eq a number written otherwise", { key: "metadata.value", operator: "eq", value: ["3.0"] }, []],
      ["metadata.value eq number", { key: "metadata.value", operator: "eq", value: [3] }, ["D"]],
      ["metadata.value eq boolean", { key: "metadata.value", operator: "eq", value: [true] }, ["B"]],
      ["metadata.value contains", { key: "metadata.value", operator: "contains", value: ["A"] }, ["A"]],
      ["metadata.value neq", { key: "metadata.value", operator: "neq", value: ["ada"] }, ["B", "C", "D"]],
      ["a value that looks like SQL is only a value", { key: "provider", operator: "eq", value: ["openai' OR '1'='1"] }, []],
    ])("filter %s", async (_name, filter, expected) => {
      await using s = await seed();
      expect(await ids(s.store, [filter])).toEqual(expected);
    });

    test("created_at takes ISO dates and epoch milliseconds", async () => {
      await using s = await seed();
      const iso = new Date(s.created.B).toISOString();
      expect(await ids(s.store, [{ key: "created_at", operator: "gt", value: [iso] }])).toEqual(["C", "D"]);
      expect(await ids(s.store, [{ key: "created_at", operator: "lt", value: [s.created.B] }])).toEqual(["A"]);
      expect(await ids(s.store, [{ key: "created_at", operator: "eq", value: [String(s.created.C)] }])).toEqual(["C"]);
    });

    test("filters combine with AND, metadata key and value included", async () => {
      await using s = await seed();
      const filters: LogFilter[] = [
        { key: "metadata.key", operator: "eq", value: ["user"] },
        { key: "metadata.value", operator: "eq", value: ["ada", "bob"] },
        { key: "success", operator: "eq", value: [true] },
      ];
      expect(await ids(s.store, filters)).toEqual(["A"]);
    });

    test("search looks at model, provider, path, event id and metadata", async () => {
      await using s = await seed();
      expect(await ids(s.store, [], { search: "claude" })).toEqual(["B"]);
      expect(await ids(s.store, [], { search: "workers" })).toEqual(["D"]);
      expect(await ids(s.store, [], { search: "evt-shared" })).toEqual(["C"]);
      expect(await ids(s.store, [], { search: "pro" })).toEqual(["A"]);
      expect(await ids(s.store, [], { search: '"plan":"pro"' })).toEqual(["A"]);
      expect(await ids(s.store, [], { search: "100%" })).toEqual([]);
      expect(await ids(s.store, [], { search: "_" })).toEqual([]);
    });

    test("orders by any allowed key, both ways, ties broken by insertion order", async () => {
      await using s = await seed();
      expect(await ids(s.store, [], { orderBy: "created_at", direction: "desc" })).toEqual(["D", "C", "B", "A"]);
      expect(await ids(s.store, [], { orderBy: "duration", direction: "asc" })).toEqual(["C", "A", "B", "D"]);
      expect(await ids(s.store, [], { orderBy: "cost", direction: "desc" })).toEqual(["D", "A", "C", "B"]);
      expect(await ids(s.store, [], { orderBy: "cost", direction: "asc" })).toEqual(["B", "C", "A", "D"]);
      expect(await ids(s.store, [], { orderBy: "model", direction: "asc" })).toEqual(["D", "B", "A", "C"]);
      expect(await ids(s.store, [], { orderBy: "provider", direction: "asc" })).toEqual(["B", "A", "C", "D"]);
      expect(await ids(s.store, [], { orderBy: "status_code", direction: "desc" })).toEqual(["B", "D", "C", "A"]);
      expect(await ids(s.store, [], { orderBy: "feedback", direction: "desc" })).toEqual(["D", "C", "B", "A"]);
    });

    test("text sorts by bytes, upper case before lower case", async () => {
      await using s = await open();
      for (const model of ["b", "B", "a", "A", "é"]) s.store.append(makeRecord({ model }));
      const rows = (await s.store.list("default", query({ orderBy: "model" }))).rows;
      expect(rows.map((r) => r.model)).toEqual(["A", "B", "a", "b", "é"]);
    });

    test("pages through the gateway's logs with a total", async () => {
      await using s = await seed();
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
      await using s = await seed();
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
      await using s = await open();
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

    test("patched metadata is what filters and search see", async () => {
      await using s = await open();
      const record = makeRecord();
      s.store.append(record);
      await s.store.patch("default", record.logId, { metadata: { team: "search", n: 3 } });
      expect(await ids(s.store, [{ key: "metadata.value", operator: "eq", value: ["3"] }])).toEqual([record.logId]);
      expect(await ids(s.store, [], { search: '"team":"search"' })).toEqual([record.logId]);
      expect((await s.store.get("default", record.logId))?.metadata).toBe('{"team":"search","n":3}');
    });

    test("delete removes the matching logs and their payloads", async () => {
      await using s = await open();
      for (const provider of ["openai", "openai", "anthropic"]) s.store.append(makeRecord({ provider }));
      s.store.append(makeRecord({ gatewayId: "other" }));
      expect(await s.store.delete("default", [{ key: "provider", operator: "eq", value: ["openai"] }])).toBe(2);
      expect(await s.count()).toBe(2);
      expect(await s.count("log_payloads")).toBe(2);
      expect(await s.store.delete("default", [])).toBe(1);
      expect((await s.store.list("other", query())).total).toBe(1);
    });

    test("delete with a limit takes the first matches in the given order", async () => {
      await using s = await open();
      const records = [50, 10, 30, 20].map((durationMs) => makeRecord({ durationMs }));
      for (const r of records) s.store.append(r);
      expect(await s.store.delete("default", [], { limit: 2, orderBy: "duration", direction: "desc" })).toBe(2);
      expect((await ids(s.store, [])).sort()).toEqual([records[1].logId, records[3].logId].sort());
      expect(await s.store.delete("default", [], { limit: 1 })).toBe(1);
      expect(await ids(s.store, [])).toEqual([records[3].logId]);
    });

    test("prune by rows keeps the newest", async () => {
      await using s = await open();
      const records = Array.from({ length: 10 }, () => makeRecord());
      for (const r of records) s.store.append(r);
      s.store.append(makeRecord({ gatewayId: "other" }));
      expect(await s.store.prune("default", { maxRows: 4 })).toBe(6);
      expect(await ids(s.store, [])).toEqual(records.slice(6).map((r) => r.logId));
      expect(await s.count("log_payloads")).toBe(5);
      expect(await s.store.prune("default", { maxRows: 4 })).toBe(0);
    });

    test("prune by rows breaks ties in time by insertion order", async () => {
      await using s = await open();
      const at = Date.UTC(2026, 1, 1);
      const records = Array.from({ length: 5 }, () => makeRecord({ createdAt: at }));
      for (const r of records) s.store.append(r);
      expect(await s.store.prune("default", { maxRows: 2 })).toBe(3);
      expect(await ids(s.store, [])).toEqual(records.slice(3).map((r) => r.logId));
    });

    test("prune by age deletes what is older than maxAgeDays", async () => {
      await using s = await open();
      const now = Date.now();
      const old = makeRecord({ createdAt: now - 3 * 86_400_000 });
      const recent = makeRecord({ createdAt: now - 3_600_000 });
      s.store.append(old);
      s.store.append(recent);
      expect(await s.store.prune("default", { maxAgeDays: 2 })).toBe(1);
      expect(await ids(s.store, [])).toEqual([recent.logId]);
    });

    test("the retention callback prunes the gateways a batch wrote to", async () => {
      await using s = await open({ retention: (id) => (id === "default" ? { maxRows: 3 } : undefined) });
      for (let i = 0; i < 5; i++) s.store.append(makeRecord());
      for (let i = 0; i < 5; i++) s.store.append(makeRecord({ gatewayId: "other" }));
      await s.store.flush();
      expect((await s.store.list("default", query())).total).toBe(3);
      expect((await s.store.list("other", query())).total).toBe(5);
    });

    test("pruneAll applies each gateway's policy", async () => {
      await using s = await open({ retention: () => ({ maxRows: 1 }), pruneIntervalMs: 60_000 });
      // The first batch prunes at once; fill the gateways afterwards, inside the quiet period.
      s.store.append(makeRecord());
      await s.store.flush();
      for (let i = 0; i < 3; i++) s.store.append(makeRecord({ gatewayId: "a" }));
      for (let i = 0; i < 3; i++) s.store.append(makeRecord({ gatewayId: "b" }));
      await s.store.flush();
      expect(await s.count()).toBe(7);
      expect(await s.store.pruneAll(["a", "b"])).toBe(4);
      expect(await s.count()).toBe(3);
    });
  });
}
