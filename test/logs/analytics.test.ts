import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { resolveConfig } from "../../src/config/defaults.ts";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import type { GatewayHandle, Stores } from "../../src/pipeline/types.ts";
import type { ProviderRegistry } from "../../src/providers/registry.ts";
import { adminApi } from "../../src/server/admin/index.ts";
import { GatewayHealth } from "../../src/server/health.ts";
import type { AnalyticsQuery, LogStore } from "../../src/store/types.ts";
import { postgres } from "../support/engines.ts";
import { openPostgresLogStore, openSqliteLogStore } from "../store/log-store-engines.ts";
import type { OpenedLogStore } from "../store/log-store-contract.ts";
import { makeRecord, memoryLogger } from "./records.ts";

const TOKEN = "admin-token-for-tests";
const ACCOUNT = "acc123";
const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const HOUR = 60 * MIN;
const iso = (ms: number) => new Date(ms).toISOString();
const noProviders: ProviderRegistry = { get: () => undefined, slugs: () => [], url: () => "" };
const usage = (tokensIn: number | null, tokensOut: number | null) => ({ tokensIn, tokensOut, cacheReadTokens: 0, cacheWriteTokens: 0 });

/** Four logs in [T0, T0 + 2 h) of gateway "prod", plus three that a query of that range must leave out. */
const records = [
  makeRecord({ gatewayId: "prod", createdAt: T0, provider: "openai", model: "gpt-4o", durationMs: 100, usage: usage(10, 5), cost: 0.01, metadata: { user: "ada" } }),
  // A cache hit: its tokens count, its cost does not (even with a cost stored).
  makeRecord({ gatewayId: "prod", createdAt: T0 + 30 * MIN, provider: "openai", model: "gpt-4o", durationMs: 200, usage: usage(20, 10), cached: true, cost: 0.5, metadata: { user: "bob" } }),
  makeRecord({ gatewayId: "prod", createdAt: T0 + HOUR, provider: "anthropic", model: "claude-sonnet-4-5", durationMs: 300, status: 500, success: false, usage: usage(null, null), cost: null, metadata: { user: "ada" } }),
  makeRecord({ gatewayId: "prod", createdAt: T0 + 90 * MIN, provider: "anthropic", model: "claude-sonnet-4-5", durationMs: 400, usage: usage(40, 20), cost: 0.04 }),
  makeRecord({ gatewayId: "prod", createdAt: T0 + 2 * HOUR, durationMs: 9999, usage: usage(1000, 1000), cost: 9 }),
  makeRecord({ gatewayId: "prod", createdAt: T0 - 1, durationMs: 9999, usage: usage(1000, 1000), cost: 9 }),
  makeRecord({ gatewayId: "other", createdAt: T0 + 10 * MIN, durationMs: 9999, usage: usage(1000, 1000), cost: 9 }),
];

async function startAdmin(open: () => Promise<OpenedLogStore>) {
  const opened = await open();
  const store: LogStore = opened.store;
  const logger = memoryLogger();
  const config = resolveConfig({ accountId: ACCOUNT, server: { adminToken: TOKEN }, gateways: { prod: {}, other: {} } }, null);
  const handle: GatewayHandle = { config, stores: { logs: store } as Partial<Stores> as Stores, providers: noProviders, logger, health: new GatewayHealth(logger) };
  const app = new Elysia().use(adminApi(handle)).listen(0);
  return {
    store,
    get: (query: string, token: string | null = TOKEN) =>
      fetch(`http://127.0.0.1:${app.server?.port}/client/v4/accounts/${ACCOUNT}/ai-gateway/gateways/prod/analytics?${query}`, {
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
      }),
    async [Symbol.asyncDispose]() {
      await app.stop(true);
      await opened[Symbol.asyncDispose]();
    },
  };
}

type Admin = Awaited<ReturnType<typeof startAdmin>>;

const range = `start_date=${iso(T0)}&end_date=${iso(T0 + 2 * HOUR)}`;
const resultOf = async (admin: Admin, query: string) => {
  const response = await admin.get(query);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { success: boolean; errors: unknown[]; result: Record<string, unknown> };
  expect(body.success).toBe(true);
  return body.result;
};

function analyticsSuite(open: () => Promise<OpenedLogStore>) {
  let admin: Admin;
  beforeAll(async () => {
    admin = await startAdmin(open);
    for (const record of records) admin.store.append(record);
    await admin.store.flush();
  });
  afterAll(() => admin[Symbol.asyncDispose]());
  const result = (query: string) => resultOf(admin, query);

  test("totals and hourly series: start inclusive, end exclusive, errors, cache hits at cost 0, percentiles", async () => {
    expect(await result(`${range}&bucket=hour`)).toEqual({
      start: iso(T0),
      end: iso(T0 + 2 * HOUR),
      bucket: "hour",
      totals: { requests: 4, errors: 1, cached: 1, tokens_in: 70, tokens_out: 35, cost: 0.05, p50_ms: 200, p95_ms: 400, p99_ms: 400 },
      series: [
        { start: iso(T0), requests: 2, errors: 0, cached: 1, tokens_in: 30, tokens_out: 15, cost: 0.01, p50_ms: 100, p95_ms: 200, p99_ms: 200 },
        { start: iso(T0 + HOUR), requests: 2, errors: 1, cached: 0, tokens_in: 40, tokens_out: 20, cost: 0.04, p50_ms: 300, p95_ms: 400, p99_ms: 400 },
      ],
    });
  });

  test("a start inside a bucket counts only from the start; the bucket keeps its own start", async () => {
    const r = await result(`start_date=${iso(T0 + 30 * MIN)}&end_date=${iso(T0 + 90 * MIN)}&bucket=hour`);
    expect(r.series).toEqual([
      { start: iso(T0), requests: 1, errors: 0, cached: 1, tokens_in: 20, tokens_out: 10, cost: 0, p50_ms: 200, p95_ms: 200, p99_ms: 200 },
      { start: iso(T0 + HOUR), requests: 1, errors: 1, cached: 0, tokens_in: 0, tokens_out: 0, cost: 0, p50_ms: 300, p95_ms: 300, p99_ms: 300 },
    ]);
  });

  test("the default bucket suits the range, empty buckets included", async () => {
    const minutes = await result(range);
    expect(minutes.bucket).toBe("minute");
    const series = minutes.series as { start: string; requests: number; p50_ms: number | null }[];
    expect(series.length).toBe(120);
    expect(series.filter((b) => b.requests > 0).map((b) => b.start)).toEqual([iso(T0), iso(T0 + 30 * MIN), iso(T0 + HOUR), iso(T0 + 90 * MIN)]);
    expect(series[1]).toMatchObject({ requests: 0, p50_ms: null, cost: 0 });
    expect((await result(`start_date=${iso(T0)}&end_date=${iso(T0 + 3 * 24 * HOUR)}`)).bucket).toBe("hour");
    expect((await result(`start_date=${iso(T0)}&end_date=${iso(T0 + 3 * 24 * HOUR + 1)}`)).bucket).toBe("day");
  });

  test("groups by provider, model and a metadata key, most requests first", async () => {
    expect((await result(`${range}&group_by=provider`)).groups).toEqual([
      { key: "anthropic", requests: 2, errors: 1, tokens_in: 40, tokens_out: 20, cost: 0.04 },
      { key: "openai", requests: 2, errors: 0, tokens_in: 30, tokens_out: 15, cost: 0.01 },
    ]);
    expect(((await result(`${range}&group_by=model`)).groups as { key: string }[]).map((g) => g.key)).toEqual(["claude-sonnet-4-5", "gpt-4o"]);
    expect((await result(`${range}&group_by=metadata.user`)).groups).toEqual([
      { key: "ada", requests: 2, errors: 1, tokens_in: 10, tokens_out: 5, cost: 0.01 },
      { key: "bob", requests: 1, errors: 0, tokens_in: 20, tokens_out: 10, cost: 0 },
      { key: null, requests: 1, errors: 0, tokens_in: 40, tokens_out: 20, cost: 0.04 },
    ]);
  });

  test("grouping does not change the totals or the series", async () => {
    const plain = await result(`${range}&bucket=hour`);
    const grouped = await result(`${range}&bucket=hour&group_by=metadata.user`);
    expect({ totals: grouped.totals, series: grouped.series }).toEqual({ totals: plain.totals, series: plain.series });
  });

  test("needs the admin token", async () => {
    expect((await admin.get(range, null)).status).toBe(401);
    expect((await admin.get(range, "wrong-token-123")).status).toBe(401);
  });

  test.each([
    ["start_date=yesterday", "start_date"],
    [`start_date=${iso(T0)}&end_date=${iso(T0)}`, "end_date"],
    [`${range}&bucket=week`, "bucket"],
    [`start_date=${iso(T0)}&end_date=${iso(T0 + 30 * 24 * HOUR)}&bucket=minute`, "bucket"],
    [`${range}&group_by=user`, "group_by"],
    [`${range}&group_by=metadata.a'b`, "group_by"],
  ])("%s → 400 naming %s", async (query, parameter) => {
    const response = await admin.get(query);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { success: boolean; errors: { code: number; message: string }[] };
    expect(body.success).toBe(false);
    expect(body.errors[0].code).toBe(ErrorCode.BadRequest);
    expect(body.errors[0].message).toContain(parameter);
  });
}

describe("GET …/gateways/{gw}/analytics on SQLite", () => analyticsSuite(openSqliteLogStore));
describe.skipIf(!(await postgres()))("GET …/gateways/{gw}/analytics on PostgreSQL", () => analyticsSuite(openPostgresLogStore));

/** A small seeded generator (mulberry32): the same varied logs on every run. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.skipIf(!(await postgres()))("SQLite and PostgreSQL", () => {
  test("answer the same analytics for the same varied logs: every bucket size, every group_by", async () => {
    const random = generator(7);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
    // Booleans group as "1" / "0" (SQLite's json_extract); no value appears both as a string and as a number,
    // which SQLite would list as two groups with the same key.
    const values = ["ada", "bob", 3, 1.5, true, false, "true", ""] as const;
    const logs = Array.from({ length: 1500 }, (_, i) => {
      const cached = random() < 0.15;
      const metadata: Record<string, string | number | boolean> = {};
      if (random() < 0.7) metadata.user = pick(values);
      if (random() < 0.02) metadata.note = "x".repeat(1500); // past what the covering index holds
      return makeRecord({
        gatewayId: pick(["prod", "prod", "prod", "other"]),
        createdAt: T0 + Math.floor(random() * 3 * 24 * HOUR) - HOUR,
        provider: pick(["openai", "anthropic", "groq"]),
        model: pick(["gpt-4o", "claude-sonnet-4-5", null, "B", "a"]),
        durationMs: random() < 0.05 ? 70_000 + Math.floor(random() * 10_000) : Math.floor(random() * 3000),
        success: random() > 0.1,
        cached,
        usage: usage(random() < 0.1 ? null : Math.floor(random() * 500), random() < 0.1 ? null : Math.floor(random() * 500)),
        cost: random() < 0.1 ? null : Math.round(random() * 1e6) / 1e7,
        metadata,
        logId: `01JANALYTICS${String(i).padStart(14, "0")}`,
      });
    });
    await using sqlite = await openSqliteLogStore();
    await using pg = await openPostgresLogStore();
    for (const log of logs) {
      sqlite.store.append(log);
      pg.store.append(log);
    }
    const queries: AnalyticsQuery[] = [];
    for (const groupBy of [undefined, "provider", "model", "metadata.user", "metadata.note", "metadata.absent"] as const) {
      queries.push({ startMs: T0, endMs: T0 + 2 * HOUR, bucket: "minute", groupBy });
      queries.push({ startMs: T0 + 17 * MIN + 123, endMs: T0 + 50 * HOUR - 7, bucket: "hour", groupBy });
      queries.push({ startMs: T0 - 2 * HOUR, endMs: T0 + 4 * 24 * HOUR, bucket: "day", groupBy });
    }
    // Compared as the API sends them (JSON): a -0 from a subtraction is the 0 a client reads.
    const wire = (value: unknown) => JSON.parse(JSON.stringify(value));
    for (const query of queries) {
      const [a, b] = await Promise.all([sqlite.store.analytics("prod", query), pg.store.analytics("prod", query)]);
      expect(wire({ query, result: b })).toEqual(wire({ query, result: a }));
    }
  });
});
