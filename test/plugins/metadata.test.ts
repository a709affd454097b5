import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { metadata } from "../../plugins/metadata.ts";
import { resolveGateway } from "../../src/config/defaults.ts";
import { definePlugin, ErrorCode, RequestContext, type Metadata, type Step } from "../../src/sdk.ts";
import { openai } from "../../src/providers/openai.ts";
import { startTestGateway, type TestGateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/** Later in the chain than "metadata": shows what it left in ctx.metadata. */
const peek = definePlugin({
  name: "peek",
  handle(ctx, next) {
    ctx.responseHeaders.set("x-seen-metadata", JSON.stringify(ctx.metadata));
    return next();
  },
});

let upstream: MockUpstream;
let gw: TestGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gw = await startTestGateway({
    upstream: upstream.url,
    config: { gateways: { roomy: { metadata: { maxEntries: 7 } } }, plugins: ["metadata", peek, "logging"] },
  });
});
afterAll(async () => {
  await gw.stop();
  await upstream.stop();
});

function chat(header: string | null, gateway = "default") {
  const headers: Record<string, string> = { "content-type": "application/json", authorization: "Bearer sk-test" };
  if (header !== null) headers["cf-aig-metadata"] = header;
  return fetch(`${gw.base(gateway)}/openai/chat/completions`, {
    method: "POST",
    headers,
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  });
}

const entries = (n: number) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));

describe("cf-aig-metadata rules", () => {
  const broken: [rule: string, header: string, message: RegExp][] = [
    ["invalid JSON", "{user: ada}", /cf-aig-metadata is not valid JSON/],
    ["an array", '["ada"]', /must be a JSON object; got an array/],
    ["a string", '"ada"', /must be a JSON object; got a string/],
    ["null", "null", /must be a JSON object; got null/],
    ["a nested object", '{"user":{"id":1}}', /value of "user" is an object; values must be strings, finite numbers or booleans/],
    ["a nested array", '{"tags":["a","b"]}', /value of "tags" is an array/],
    ["a null value", '{"user":null}', /value of "user" is null/],
    ["a non-finite number", '{"n":1e999}', /value of "n" is a number too large to represent/],
    ["too many entries", entries(6), /has 6 entries; at most 5 are allowed \(raise gateways\.default\.metadata\.maxEntries to allow more\)/],
    ["a key over 64 characters", JSON.stringify({ ["k".repeat(65)]: 1 }), /is 65 characters long; keys are at most 64/],
    ["an empty key", '{"":1}', /has an empty key/],
    ["a reserved cf. key", '{"cf.user":"ada"}', /key "cf\.user" is reserved: keys starting with "cf\." belong to the gateway/],
  ];

  test.each(broken)("refuses %s with 400/2105 naming the rule, and sends nothing upstream", async (_rule, header, message) => {
    upstream.reset();
    const res = await chat(header);
    const body = (await res.json()) as { internalCode: number; message: string; error: { code: number }[] };
    expect(res.status).toBe(400);
    expect(body.internalCode).toBe(ErrorCode.InvalidMetadata);
    expect(body.error[0].code).toBe(ErrorCode.InvalidMetadata);
    expect(body.message).toMatch(message);
    expect(upstream.requests).toHaveLength(0);
  });

  test("maxEntries is per gateway: 7 allows what 5 refuses", async () => {
    const res = await chat(entries(7), "roomy");
    expect(res.status).toBe(200);
    expect((await chat(entries(8), "roomy")).status).toBe(400);
  });

  test("accepts 5 entries, a 64-character key, and no header at all", async () => {
    expect((await chat(entries(5))).status).toBe(200);
    expect((await chat(JSON.stringify({ ["k".repeat(64)]: "ok" }))).status).toBe(200);
    const none = await chat(null);
    expect(none.status).toBe(200);
    expect(none.headers.get("x-seen-metadata")).toBe("{}");
  });
});

describe("valid metadata", () => {
  const sent: Metadata = { user: "ada", team: "ml", seats: 42, trial: true };

  test("is readable by later plugins as ctx.metadata and is on the log record, filterable by key and value", async () => {
    const res = await chat(JSON.stringify(sent));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.headers.get("x-seen-metadata")!)).toEqual(sent);
    const logId = res.headers.get("cf-aig-log-id")!;
    await gw.settle();

    const logs = gw.running.handle.stores.logs;
    const find = async (key: string, value: string | number | boolean) =>
      (await logs.list("default", { page: 1, perPage: 50, orderBy: "created_at", direction: "desc", filters: [{ key, operator: "eq", value: [value] }] })).rows.map((r) => r.id);

    expect(await find("metadata.key", "team")).toEqual([logId]);
    expect(await find("metadata.value", "ada")).toEqual([logId]);
    expect(await find("metadata.value", "nobody")).toEqual([]);
    expect(JSON.parse((await logs.get("default", logId))!.metadata!)).toEqual(sent);
  });
});

describe("Universal steps", () => {
  const step = (options: Record<string, string> | null): Step => ({
    provider: openai,
    endpoint: "chat/completions",
    search: "",
    method: "POST",
    headers: new Headers(),
    options: options ? new Headers(options) : null,
    body: null,
  });
  const context = (steps: Step[]) =>
    new RequestContext({ gateway: resolveGateway("default"), accountId: "local", requestType: "universal", headers: new Headers({ "cf-aig-metadata": '{"user":"request"}' }), steps, clientAddress: null });

  test("a step's own header wins for that step, and the record gets the serving step's metadata", async () => {
    const ctx = context([step(null), step({ "cf-aig-metadata": '{"user":"step1"}' })]);
    const seen: Metadata[] = [];
    const response = await metadata().handle(ctx, async () => {
      seen.push({ ...ctx.metadata });
      ctx.stepIndex = 1; // what fallback does when step 0 fails
      return new Response("ok");
    });
    expect(await response.text()).toBe("ok");
    expect(seen).toEqual([{ user: "request" }]);
    expect(ctx.metadata).toEqual({ user: "step1" });
  });

  test("a broken step header is refused before anything runs, naming the step", async () => {
    const ctx = context([step(null), step({ "cf-aig-metadata": "[1]" })]);
    let called = false;
    const attempt = metadata().handle(ctx, async () => ((called = true), new Response("ok")));
    await expect(attempt).rejects.toMatchObject({ status: 400, code: ErrorCode.InvalidMetadata, message: "cf-aig-metadata (step 1) must be a JSON object; got an array" });
    expect(called).toBe(false);
  });
});
