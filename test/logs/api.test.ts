import { GatewayHealth } from "../../src/server/health.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Cloudflare from "cloudflare";
import { Elysia } from "elysia";
import { join } from "node:path";
import { resolveConfig } from "../../src/config/defaults.ts";
import type { ConfigInput } from "../../src/config/schema.ts";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import type { Stores, GatewayHandle } from "../../src/pipeline/types.ts";
import type { ProviderRegistry } from "../../src/providers/registry.ts";
import { adminApi } from "../../src/server/admin/index.ts";
import { openDatabase } from "../../src/store/sqlite/db.ts";
import { SqliteLogStore } from "../../src/store/sqlite/logs.ts";
import { makeRecord, memoryLogger, side, tempDir } from "./records.ts";

const TOKEN = "admin-token-for-tests";
const ACCOUNT = "acc123";

const noProviders: ProviderRegistry = { get: () => undefined, slugs: () => [], url: () => "" };

/** The admin plugin alone on a real server (port 0), over a real SQLite file. */
function startAdmin(input: ConfigInput) {
  const dir = tempDir();
  const logger = memoryLogger();
  const store = new SqliteLogStore(openDatabase(join(dir.path, "logs.db")), { logger });
  const handle: GatewayHandle = { config: resolveConfig(input, null), stores: { logs: store } as Partial<Stores> as Stores, providers: noProviders, logger, health: new GatewayHealth(logger) };
  const app = new Elysia().use(adminApi(handle)).listen(0);
  const url = `http://127.0.0.1:${app.server?.port}`;
  return {
    url,
    store,
    logger,
    client: new Cloudflare({ apiToken: TOKEN, baseURL: `${url}/client/v4`, maxRetries: 0 }),
    /** Raw request to a path under the account's ai-gateway prefix. */
    fetch: (path: string, init: RequestInit & { token?: string | null; account?: string } = {}) => {
      const token = init.token === undefined ? TOKEN : init.token;
      const headers = new Headers(init.headers);
      if (token !== null) headers.set("authorization", `Bearer ${token}`);
      return fetch(`${url}/client/v4/accounts/${init.account ?? ACCOUNT}/ai-gateway/${path}`, { ...init, headers });
    },
    async [Symbol.asyncDispose]() {
      await app.stop(true);
      await store.close();
      dir[Symbol.dispose]();
    },
  };
}

const config: ConfigInput = {
  accountId: ACCOUNT,
  server: { adminToken: TOKEN },
  gateways: { prod: { logs: { maxRows: 1000, maxAgeDays: 30, payloads: true } } },
};

let admin: ReturnType<typeof startAdmin>;
const seeded = {
  ada: makeRecord({ gatewayId: "prod", provider: "openai", model: "gpt-4o", metadata: { user: "ada", plan: "pro" }, request: side({ prompt: "hi" }) }),
  bob: makeRecord({ gatewayId: "prod", provider: "anthropic", model: "claude-sonnet", status: 500, success: false, metadata: { user: "bob" } }),
  stream: makeRecord({ gatewayId: "prod", provider: "openai", cached: true, cost: 0, response: side("data: hi\n\n", "text/event-stream") }),
  quiet: makeRecord({ gatewayId: "prod", provider: "workers-ai", model: "@cf/meta/llama", collectPayload: false }),
  cut: makeRecord({ gatewayId: "prod", provider: "openai", response: { ...side('{"choices":[{"mess'), truncated: true } }),
};
const all = Object.values(seeded).map((r) => r.logId);

beforeAll(async () => {
  admin = startAdmin(config);
  for (const record of Object.values(seeded)) admin.store.append(record);
  await admin.store.flush();
});
afterAll(() => admin[Symbol.asyncDispose]());

describe("logs through the official cloudflare client", () => {
  test("list applies the SDK's filters (values OR'ed, filters AND'ed) and returns V4 pagination", async () => {
    const page = await admin.client.aiGateway.logs.list("prod", {
      account_id: ACCOUNT,
      filters: [
        { key: "provider", operator: "eq", value: ["openai", "anthropic"] },
        { key: "success", operator: "eq", value: [true] },
      ],
      order_by: "created_at",
      order_by_direction: "asc",
    });
    expect(page.result.map((r) => r.id)).toEqual([seeded.ada.logId, seeded.stream.logId, seeded.cut.logId]);
    expect(page.result_info as unknown).toEqual({ page: 1, per_page: 20, count: 3, total_count: 3, total_pages: 1 });
    expect(page.result[0]).toMatchObject({ provider: "openai", model: "gpt-4o", success: true, cached: false, metadata: '{"user":"ada","plan":"pro"}' });
  });

  test("newest first by default; for-await walks every page", async () => {
    const seen: string[] = [];
    for await (const log of admin.client.aiGateway.logs.list("prod", { account_id: ACCOUNT, per_page: 2 })) seen.push(log.id);
    expect(seen).toEqual([...all].reverse());
  });

  test("metadata key and value filters, null values and search", async () => {
    const list = async (params: Omit<Cloudflare.AIGateway.LogListParams, "account_id">) =>
      (await admin.client.aiGateway.logs.list("prod", { account_id: ACCOUNT, order_by_direction: "asc", ...params })).result.map((r) => r.id);
    expect(await list({ filters: [{ key: "metadata.key", operator: "eq", value: ["plan"] }] })).toEqual([seeded.ada.logId]);
    expect(await list({ filters: [{ key: "metadata.value", operator: "eq", value: ["bob", "nobody"] }] })).toEqual([seeded.bob.logId]);
    expect(await list({ filters: [{ key: "model_type", operator: "eq", value: [null] }, { key: "cached", operator: "eq", value: [true] }] })).toEqual([
      seeded.stream.logId,
    ]);
    expect(await list({ search: "llama" })).toEqual([seeded.quiet.logId]);
    expect(await list({ order_by: "model", filters: [{ key: "provider", operator: "neq", value: ["openai"] }] })).toEqual([
      seeded.quiet.logId,
      seeded.bob.logId,
    ]);
  });

  test("get returns the log with its heads and attempts", async () => {
    const log = await admin.client.aiGateway.logs.get(seeded.ada.logId, { account_id: ACCOUNT, gateway_id: "prod" });
    expect(log).toMatchObject({
      id: seeded.ada.logId,
      provider: "openai",
      model: "gpt-4o",
      success: true,
      status_code: 200,
      request_head_complete: true,
      request_size: seeded.ada.request.size,
      attempts: seeded.ada.attempts,
    });
    expect(JSON.parse(log.request_head ?? "")).toEqual({ "content-type": "application/json" });
  });

  test("request and response return the captured bodies", async () => {
    const ids = { account_id: ACCOUNT, gateway_id: "prod" };
    expect(await admin.client.aiGateway.logs.request(seeded.ada.logId, ids)).toEqual({ prompt: "hi" });
    expect(await admin.client.aiGateway.logs.response(seeded.ada.logId, ids)).toEqual(JSON.parse(new TextDecoder().decode(seeded.ada.response.body ?? undefined)));
    expect(await admin.client.aiGateway.logs.response(seeded.stream.logId, ids)).toBe("data: hi\n\n");
    // A JSON body cut at maxPayloadBytes no longer parses: it comes back as text.
    expect(await admin.client.aiGateway.logs.response(seeded.cut.logId, ids)).toBe('{"choices":[{"mess');
  });

  test("a body that was not captured is a 404 LogNotFound", async () => {
    const error = await admin.client.aiGateway.logs.request(seeded.quiet.logId, { account_id: ACCOUNT, gateway_id: "prod" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Cloudflare.NotFoundError);
    expect((error as InstanceType<typeof Cloudflare.NotFoundError>).errors).toEqual([{ code: ErrorCode.LogNotFound, message: `The request body of log "${seeded.quiet.logId}" was not captured` }]);
  });

  test("edit records feedback, score and metadata and answers the updated log", async () => {
    const updated = await admin.client.aiGateway.logs.edit(seeded.bob.logId, {
      account_id: ACCOUNT,
      gateway_id: "prod",
      feedback: -1,
      score: 12,
      metadata: { reviewer: "carol", checked: true },
    });
    expect(updated).toMatchObject({ id: seeded.bob.logId, feedback: -1, score: 12, metadata: '{"user":"bob","reviewer":"carol","checked":true}' });
    const page = await admin.client.aiGateway.logs.list("prod", { account_id: ACCOUNT, filters: [{ key: "feedback", operator: "eq", value: [-1] }] });
    expect(page.result.map((r) => r.id)).toEqual([seeded.bob.logId]);
  });

  test("edit with a bad body is a 400 naming the field", async () => {
    const error = await admin.client.aiGateway.logs
      .edit(seeded.bob.logId, { account_id: ACCOUNT, gateway_id: "prod", score: 101 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Cloudflare.BadRequestError);
    expect((error as InstanceType<typeof Cloudflare.BadRequestError>).errors).toEqual([{ code: ErrorCode.BadRequest, message: "score must be an integer from 0 to 100 or null, got 101" }]);
  });

  test("delete removes the logs matching the filters, and only those", async () => {
    const doomed = [makeRecord({ provider: "groq" }), makeRecord({ provider: "groq" }), makeRecord({ provider: "mistral" })];
    for (const record of doomed) admin.store.append(record);
    const answer = await admin.client.aiGateway.logs.delete("default", {
      account_id: ACCOUNT,
      filters: [{ key: "provider", operator: "eq", value: ["groq"] }],
    });
    expect(answer as unknown).toEqual({ success: true, errors: [], messages: [], result: { deleted: 2 } });
    const left = await admin.client.aiGateway.logs.list("default", { account_id: ACCOUNT });
    expect(left.result.map((r) => r.id)).toEqual([doomed[2].logId]);
    expect(((await admin.client.aiGateway.logs.list("prod", { account_id: ACCOUNT })).result_info as { total_count?: number }).total_count).toBe(all.length);
  });
});

describe("gateways through the official cloudflare client", () => {
  test("get describes a configured gateway in Cloudflare's shape", async () => {
    const gateway = await admin.client.aiGateway.get("prod", { account_id: ACCOUNT });
    expect(gateway as unknown).toEqual({
      id: "prod",
      created_at: expect.any(String),
      modified_at: expect.any(String),
      cache_ttl: 0,
      cache_invalidate_on_update: false,
      collect_logs: true,
      rate_limiting_interval: 0,
      rate_limiting_limit: 0,
      rate_limiting_technique: "fixed",
      authentication: false,
      log_management: 1000,
      log_management_strategy: "DELETE_OLDEST",
      logpush: false,
      is_default: false,
      collect_payloads: true,
      log_max_age_days: 30,
    });
  });

  test("list pages through the gateways, default included; search filters by id", async () => {
    const ids: string[] = [];
    for await (const gateway of admin.client.aiGateway.list({ account_id: ACCOUNT, per_page: 1 })) ids.push(gateway.id);
    expect(ids).toEqual(["default", "prod"]);
    const found = await admin.client.aiGateway.list({ account_id: ACCOUNT, search: "PRO" });
    expect(found.result.map((g) => g.id)).toEqual(["prod"]);
    expect(found.result_info as unknown).toEqual({ page: 1, per_page: 20, count: 1, total_count: 1, total_pages: 1 });
  });
});

describe("query encodings other clients use", () => {
  const idsOf = async (response: Response) => ((await response.json()) as { result: { id: string }[] }).result.map((r) => r.id);

  test("bracketed and JSON filters mean the same as the SDK's dotted ones", async () => {
    const expected = [seeded.bob.logId, seeded.quiet.logId];
    const bracket = "filters[0][key]=provider&filters[0][operator]=neq&filters[0][value][0]=openai&order_by_direction=asc";
    const json = `filters=${encodeURIComponent(JSON.stringify([{ key: "provider", operator: "neq", value: "openai" }]))}&order_by_direction=asc`;
    const grouped = "filters.key=provider&filters.key=success&filters.operator=neq&filters.operator=eq&filters.value=openai&filters.value=false";
    expect(await idsOf(await admin.fetch(`gateways/prod/logs?${bracket}`))).toEqual(expected);
    expect(await idsOf(await admin.fetch(`gateways/prod/logs?${json}`))).toEqual(expected);
    expect(await idsOf(await admin.fetch(`gateways/prod/logs?${grouped}`))).toEqual([seeded.bob.logId]);
  });

  test("per_page above 50 is clamped to 50", async () => {
    const body = (await (await admin.fetch("gateways/prod/logs?per_page=500")).json()) as { result_info: { per_page: number } };
    expect(body.result_info.per_page).toBe(50);
  });
});

describe("admin errors use the V4 envelope", () => {
  const envelope = (status: number, code: number, message: string) => ({
    success: false,
    error: [{ code, message }],
    errors: [{ code, message }],
    messages: [],
    result: null,
    name: "AiGatewayError",
    httpCode: status,
    internalCode: code,
    message,
  });

  test("no token or a wrong one is 401 AdminUnauthorized", async () => {
    const message = "Missing or invalid admin token (Authorization: Bearer <server.adminToken>)";
    for (const token of [null, "wrong-token", `${TOKEN}x`]) {
      const response = await admin.fetch("gateways/prod/logs", { token });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual(envelope(401, ErrorCode.AdminUnauthorized, message));
    }
    const error = await new Cloudflare({ apiToken: "nope", baseURL: `${admin.url}/client/v4`, maxRetries: 0 }).aiGateway
      .get("prod", { account_id: ACCOUNT })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Cloudflare.AuthenticationError);
  });

  test("without an admin token configured the admin API is 403 AdminDisabled and says how to enable it", async () => {
    await using off = startAdmin({});
    const response = await off.fetch("gateways");
    expect(response.status).toBe(403);
    const body = (await response.json()) as { internalCode: number; message: string };
    expect(body.internalCode).toBe(ErrorCode.AdminDisabled);
    expect(body.message).toContain("server.adminToken");
    expect(body.message).toContain("SWITCHBOARD_ADMIN_TOKEN");
  });

  test.each([
    ["another account", "other-account/gateways", 404, ErrorCode.UnknownAccount, 'Account "other-account" is not this gateway\'s account'],
    ["an unknown gateway's logs", "gateways/nope/logs", 404, ErrorCode.UnknownGateway, 'Gateway "nope" is not configured'],
    ["an unknown gateway", "gateways/nope", 404, ErrorCode.UnknownGateway, 'Gateway "nope" is not configured'],
    ["an unknown log", "gateways/prod/logs/01JNOPE", 404, ErrorCode.LogNotFound, 'Log "01JNOPE" does not exist in this gateway'],
    ["an unknown log's body", "gateways/prod/logs/01JNOPE/response", 404, ErrorCode.LogNotFound, 'Log "01JNOPE" does not exist in this gateway'],
    ["an unknown filter key", "gateways/prod/logs?filters.key=colour&filters.operator=eq&filters.value=red", 400, ErrorCode.BadRequest, /Unknown filter key "colour"; allowed keys: id, created_at, provider/],
    ["an unknown operator", "gateways/prod/logs?filters.key=model&filters.operator=like&filters.value=x", 400, ErrorCode.BadRequest, /unknown operator "like" for filter "model"; allowed: eq, neq, contains, lt, gt/],
    ["a filter without operator", "gateways/prod/logs?filters.key=model&filters.value=x", 400, ErrorCode.BadRequest, /filter "model" has no operator/],
    ["malformed JSON filters", "gateways/prod/logs?filters=%5B", 400, ErrorCode.BadRequest, /filters is not valid JSON/],
    ["an unknown order_by", "gateways/prod/logs?order_by=path", 400, ErrorCode.BadRequest, /Unknown order_by "path"/],
    ["page 0", "gateways/prod/logs?page=0", 400, ErrorCode.BadRequest, 'page must be a positive integer, got "0"'],
  ] as const)("%s", async (_name, path, status, code, message) => {
    // "account/…" paths name the account in the URL; the others use the configured one.
    const [account, rest] = path.startsWith("other-account/") ? ["other-account", path.slice("other-account/".length)] : [ACCOUNT, path];
    const response = await admin.fetch(rest, { account });
    expect(response.status).toBe(status);
    const body = (await response.json()) as ReturnType<typeof envelope>;
    if (typeof message === "string") expect(body).toEqual(envelope(status, code, message));
    else {
      expect(body).toMatchObject({ success: false, httpCode: status, internalCode: code, errors: [{ code }] });
      expect(body.message).toMatch(message);
    }
  });

  test.each([
    ["{not json", "The body is not valid JSON"],
    ["[1]", "The body must be a JSON object"],
    ['{"feedback":2}', "feedback must be -1, 0, 1 or null, got 2"],
    ['{"metadata":{"nested":{"a":1}}}', "metadata.nested must be a string, a number or a boolean"],
    ['{"rating":5}', "Unknown field(s) rating; allowed: feedback, score, metadata"],
  ])("PATCH %s is a 400 with a clear message", async (body, message) => {
    const response = await admin.fetch(`gateways/prod/logs/${seeded.ada.logId}`, {
      method: "PATCH",
      body,
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual(envelope(400, ErrorCode.BadRequest, message));
  });

  test("routes outside the admin API are not touched by its guard", async () => {
    const response = await fetch(`${admin.url}/v1/${ACCOUNT}/prod/openai/chat/completions`, { method: "POST" });
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type") ?? "").not.toContain("json");
  });
});
