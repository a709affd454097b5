import { Database, type Statement } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Metadata, RequestRecord } from "../../src/pipeline/record.ts";
import { migrate, openDatabase } from "../../src/store/sqlite/db.ts";
import { LOG_METADATA_MIGRATIONS, LogMetadataRollup, metadataObject } from "../../src/store/sqlite/log-metadata.ts";
import { batchRollupRows } from "../../src/store/sqlite/log-metadata-batch.ts";
import { INSERT_LOG_SQL, LOG_MIGRATIONS, logParams, logValues, payloadParams, payloadValues } from "../../src/store/sqlite/log-rows.ts";
import { SqliteLogStore } from "../../src/store/sqlite/logs.ts";
import { makeRecord, memoryLogger, side, tempDir } from "../logs/records.ts";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const text = (body: Uint8Array | null) => (body === null ? null : new TextDecoder().decode(body));

/** What the API shows of a log's payload: heads, truncation flags and both bodies. */
async function payloadOf(store: SqliteLogStore, record: RequestRecord) {
  const detail = await store.get(record.gatewayId, record.logId);
  const request = await store.payload(record.gatewayId, record.logId, "request");
  const response = await store.payload(record.gatewayId, record.logId, "response");
  return {
    request_head: detail?.request_head,
    request_head_complete: detail?.request_head_complete,
    response_head: detail?.response_head,
    response_body_truncated: detail?.response_body_truncated,
    request: text(request?.body ?? null),
    response: text(response?.body ?? null),
  };
}

/** What `payloadOf` shows for a record whose payload was stored. */
const stored = (record: RequestRecord) => ({
  request_head: JSON.stringify(record.request.headers),
  request_head_complete: true,
  response_head: JSON.stringify(record.response.headers),
  response_body_truncated: record.response.truncated,
  request: text(record.request.body),
  response: text(record.response.body),
});
const none = { request_head: "{}", request_head_complete: false, response_head: "{}", response_body_truncated: false, request: null, response: null };

describe("SQLite log payloads, keyed by their log's rowid", () => {
  test("a file written before the change (payloads keyed by log id) serves every payload after the upgrade", async () => {
    using dir = tempDir();
    const path = join(dir.path, "switchboard.db");
    const G = "default";
    const withPayload = makeRecord({ response: { ...side("cut here"), truncated: true } });
    const withoutPayload = makeRecord({ collectPayload: false });
    const later = makeRecord({ request: side({ n: 3 }, "application/json", { "x-trace": "t-3" }) });

    // The layout and the writes of the binary before: logs migrations 1 and 2, payloads by log id.
    const old = openDatabase(path);
    migrate(old, "logs", LOG_MIGRATIONS.slice(0, 2));
    migrate(old, "log_metadata", LOG_METADATA_MIGRATIONS);
    const insertLog: Statement = old.prepare(INSERT_LOG_SQL);
    const insertPayload: Statement = old.prepare(`INSERT OR REPLACE INTO log_payloads
      (id, request_head, response_head, request_body, response_body, request_truncated, response_truncated) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    for (const record of [withPayload, withoutPayload, later]) {
      insertLog.run(logParams(logValues(record)));
      if (!record.collectPayload) continue;
      const payload = payloadParams(payloadValues(record));
      payload[0] = record.logId;
      insertPayload.run(payload);
    }
    // A payload whose log is gone (left by hand): it has nothing to be served with, and is not carried over.
    insertPayload.run(["01JORPHAN", "{}", "{}", null, null, 0, 0]);
    old.close();

    const store = new SqliteLogStore(openDatabase(path), { logger: memoryLogger() });
    const fresh = makeRecord({ gatewayId: G, response: side("fresh answer", "text/plain") });
    try {
      expect(await payloadOf(store, withPayload)).toEqual(stored(withPayload));
      expect(await payloadOf(store, withoutPayload)).toEqual(none);
      expect(await payloadOf(store, later)).toEqual(stored(later));
      // Written after the upgrade, next to the carried-over ones.
      store.append(fresh);
      expect(await payloadOf(store, fresh)).toEqual(stored(fresh));
      // Deleting a carried-over log takes its payload with it; the others stay.
      expect(await store.delete(G, [{ key: "id", operator: "eq", value: [withPayload.logId] }])).toBe(1);
      expect(await payloadOf(store, later)).toEqual(stored(later));
    } finally {
      await store.close();
    }

    using db = new Database(path, { readonly: true });
    expect(db.query("SELECT version FROM schema_versions WHERE concern = 'logs'").get()).toEqual({ version: LOG_MIGRATIONS.length });
    // The view keeps the old shape for readers that join payloads by log id (the CLI's log reader).
    const ids = db.query<{ id: string }, []>("SELECT id FROM log_payloads ORDER BY id").all().map((row) => row.id);
    expect(ids).toEqual([later.logId, fresh.logId].sort());
    expect(db.query("SELECT COUNT(*) AS n FROM log_payloads_by_rowid").get()).toEqual({ n: 2 });
  });

  test("a record appended again takes its new payload, or none when the new version has none", async () => {
    using dir = tempDir();
    const store = new SqliteLogStore(openDatabase(join(dir.path, "switchboard.db")), { logger: memoryLogger() });
    try {
      const first = makeRecord({ response: side("first answer", "text/plain") });
      store.append(first);
      await store.flush();
      const second = { ...first, response: side("second answer", "text/plain") };
      store.append(second);
      expect(await payloadOf(store, first)).toEqual(stored(second));
      store.append({ ...first, collectPayload: false });
      expect(await payloadOf(store, first)).toEqual(none);
      expect(store.stats).toEqual({ batches: 3, written: 3, dropped: 0 });
    } finally {
      await store.close();
    }
  });
});

describe("the rollup of a batch summed in JS", () => {
  const cost = (n: number) => n / 1024; // binary fractions: sums are exact in any order
  /** Logs across two gateways and three hours, with every kind of value the JS sum keys itself. */
  const plain: Partial<RequestRecord>[] = [
    { metadata: { user: "ada", team: "search" } },
    { metadata: { user: "ada", n: 42, flag: true } },
    { metadata: { user: "bob", n: "42", flag: false, zero: 0, neg: -7 } },
    { metadata: { flag: 1, big: 2 ** 53 - 1, empty: "", city: "Zürich", emoji: "🙂 ok", "ключ": "значение" } },
    { metadata: { ["__proto__"]: "own key", "a.b": "dots", "$.x": "path-like" } },
    { metadata: {}, model: null },
    { metadata: { user: "ada" }, gatewayId: "other", provider: "anthropic", model: "claude-sonnet-4-5" },
    { metadata: { user: "cy" }, success: false, status: 500, usage: { tokensIn: null, tokensOut: null, cacheReadTokens: 0, cacheWriteTokens: 0 }, cost: null },
    { metadata: { user: "cy" }, cached: true },
  ];
  const records = (overrides: Partial<RequestRecord>[]) =>
    overrides.map((o, i) => makeRecord({ gatewayId: "g", createdAt: T0 + (i % 3) * HOUR + i * 60_000, cost: cost(i + 1), ...o }));

  /** The rollup's rows, with each value's SQLite type, after writing `batch` into a fresh file and folding it. */
  function rollupAfter(dir: string, name: string, batch: RequestRecord[], how: "js" | "sql") {
    const db = openDatabase(join(dir, `${name}.db`));
    migrate(db, "logs", LOG_MIGRATIONS);
    migrate(db, "log_metadata", LOG_METADATA_MIGRATIONS);
    const rollup = new LogMetadataRollup(db);
    const insert: Statement = db.prepare(INSERT_LOG_SQL);
    const logs = batch.map((record) => logParams(logValues(record)));
    db.transaction(() => {
      rollup.begin();
      for (const log of logs) insert.run(log);
      rollup.fold(how === "js" ? logs : undefined);
    }).immediate();
    const rows = db
      .query("SELECT gateway_id, key, hour, value, typeof(value) AS type, requests, errors, tokens_in, tokens_out, cost FROM log_metadata_hours ORDER BY 1, 2, 3, 4")
      .all();
    db.close();
    return rows;
  }

  test("adds exactly the rows the SQL fold adds: strings, booleans as 1/0, integers, provider and model", () => {
    using dir = tempDir();
    const batch = records(plain);
    expect(batchRollupRows(batch.map((r) => logParams(logValues(r))))).not.toBeNull();
    const js = rollupAfter(dir.path, "js", batch, "js");
    expect(js.length).toBeGreaterThan(20);
    expect(js).toEqual(rollupAfter(dir.path, "sql", batch, "sql"));
  });

  test("leaves a batch to the SQL fold when a value might be keyed otherwise in JS, with the same result", () => {
    using dir = tempDir();
    const unusual: Metadata[] = [{ ratio: 1.5 }, { big: 2 ** 53 }, { huge: 1e21 }, { tab: "a\tb" }, { quote: 'say "hi"' }, { 'key "q"': "v" }, { "\u0001model": "x" }, { lone: "\ud800" }];
    unusual.forEach((metadata, i) => {
      const batch = records([...plain, { metadata }]);
      expect({ metadata, rows: batchRollupRows(batch.map((r) => logParams(logValues(r)))) }).toEqual({ metadata, rows: null });
      expect(rollupAfter(dir.path, `js-${i}`, batch, "js")).toEqual(rollupAfter(dir.path, `sql-${i}`, batch, "sql"));
    });
  });
});

describe("retention keeps the rollup exact, in one pass per prune", () => {
  /** The rollup folding every log up to the mark from scratch would hold, in `log_metadata_hours`'s shape. */
  const FROM_SCRATCH = `SELECT gateway_id, key, hour, value, COUNT(*) AS requests, SUM(errors) AS errors, SUM(tokens_in) AS tokens_in,
      SUM(tokens_out) AS tokens_out, TOTAL(cost) AS cost
    FROM (
      SELECT l.gateway_id, m.key, l.created_at / ${HOUR} AS hour, m.value, l.success = 0 AS errors, COALESCE(l.tokens_in, 0) AS tokens_in,
        COALESCE(l.tokens_out, 0) AS tokens_out, CASE WHEN l.cached = 1 THEN 0 ELSE COALESCE(l.cost, 0) END AS cost
      FROM logs AS l, json_each(${metadataObject("l.metadata")}) AS m WHERE m.type <> 'null' AND substr(m.key, 1, 1) <> char(1)
      UNION ALL SELECT gateway_id, char(1) || 'provider', created_at / ${HOUR}, provider, success = 0, COALESCE(tokens_in, 0), COALESCE(tokens_out, 0),
        CASE WHEN cached = 1 THEN 0 ELSE COALESCE(cost, 0) END FROM logs
      UNION ALL SELECT gateway_id, char(1) || 'model', created_at / ${HOUR}, model, success = 0, COALESCE(tokens_in, 0), COALESCE(tokens_out, 0),
        CASE WHEN cached = 1 THEN 0 ELSE COALESCE(cost, 0) END FROM logs WHERE model IS NOT NULL
    )
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`;
  const ROLLUP = "SELECT gateway_id, key, hour, value, requests, errors, tokens_in, tokens_out, cost FROM log_metadata_hours ORDER BY 1, 2, 3, 4";
  const cost = (n: number) => n / 1024;

  test("pruning by rows and by age takes exactly the pruned logs out; logs not folded yet are pruned without touching it", async () => {
    using dir = tempDir();
    const path = join(dir.path, "switchboard.db");
    const store = new SqliteLogStore(openDatabase(path), { logger: memoryLogger() });
    const now = Date.now();
    const kept = (times: number[]) => times.sort((a, b) => a - b).slice(-30);
    const times: number[] = [];
    try {
      for (let i = 0; i < 60; i++) {
        // Three logs an hour: each prune below cuts an hour in two.
        const createdAt = now - 3 * 86_400_000 + i * 20 * 60_000 + 7 * 60_000;
        if (i % 5 !== 0) times.push(createdAt);
        store.append(
          makeRecord({
            gatewayId: i % 5 === 0 ? "other" : "g",
            createdAt,
            model: i % 7 === 0 ? null : "gpt-4o-mini",
            metadata: { user: ["ada", "bob", "cy"][i % 3], n: i % 4, vip: i % 2 === 0 },
            success: i % 6 !== 0,
            cached: i % 9 === 0,
            cost: cost(i),
          }),
        );
      }
      await store.flush();
      // Rows another binary wrote, not folded yet: the next batch's fold takes them in.
      using side = openDatabase(path);
      const insert: Statement = side.prepare(INSERT_LOG_SQL);
      for (let i = 0; i < 4; i++) {
        const createdAt = now - 86_400_000 + i * 1000;
        times.push(createdAt);
        insert.run(logParams(logValues(makeRecord({ gatewayId: "g", createdAt, metadata: { user: "dee" } }))));
      }
      const left = kept(times);
      const old = left.filter((t) => t < now - 2.5 * 86_400_000).length;
      expect([times.length - left.length, old]).toEqual([22, 6]);
      expect(await store.prune("g", { maxRows: 30 })).toBe(22);
      expect(await store.prune("g", { maxAgeDays: 2.5 })).toBe(old);
      store.append(makeRecord({ gatewayId: "g", createdAt: now, metadata: { user: "ada" } }));
      await store.flush();
    } finally {
      await store.close();
    }
    using db = new Database(path, { readonly: true });
    expect(db.query("SELECT COUNT(*) AS n FROM logs WHERE rowid > (SELECT last_rowid FROM log_metadata_folded)").get()).toEqual({ n: 0 });
    expect(db.query("SELECT COUNT(*) AS n FROM logs WHERE gateway_id = 'g'").get()).toEqual({ n: 30 - 6 + 1 });
    expect(db.query(ROLLUP).all()).toEqual(db.query(FROM_SCRATCH).all());
  });

  test("once retention takes the newest logs too, the mark comes down and the next logs are folded", async () => {
    using dir = tempDir();
    const path = join(dir.path, "switchboard.db");
    const store = new SqliteLogStore(openDatabase(path), { logger: memoryLogger() });
    try {
      for (let i = 0; i < 5; i++) store.append(makeRecord({ gatewayId: "g", createdAt: Date.now() - 10 * 86_400_000 + i, metadata: { user: "ada" } }));
      expect(await store.prune("g", { maxAgeDays: 1 })).toBe(5);
      for (let i = 0; i < 3; i++) store.append(makeRecord({ gatewayId: "g", createdAt: Date.now(), metadata: { user: "bob" } }));
      await store.flush();
    } finally {
      await store.close();
    }
    using db = new Database(path, { readonly: true });
    expect(db.query("SELECT COUNT(*) AS n FROM logs WHERE rowid > (SELECT last_rowid FROM log_metadata_folded)").get()).toEqual({ n: 0 });
    expect(db.query("SELECT value, requests FROM log_metadata_hours WHERE key = 'user'").all()).toEqual([{ value: "bob", requests: 3 }]);
    expect(db.query(ROLLUP).all()).toEqual(db.query(FROM_SCRATCH).all());
  });
});
