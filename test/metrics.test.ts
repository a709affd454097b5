import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ErrorCode } from "../src/pipeline/errors.ts";
import type { RequestRecord } from "../src/pipeline/record.ts";
import { OTHER_MODEL, RequestMetrics } from "../src/server/metrics/registry.ts";
import { parseExposition, type Exposition } from "./support/prometheus.ts";
import { expectedUsage } from "./support/mock-upstream.ts";
import { gatewayWithMock, type GatewayWithMock } from "./support/with-mock.ts";

const ADMIN = "metrics-admin-token";
const PRICE = { per_token_in: 0.001, per_token_out: 0.002 };

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: "user", content: "count these five words" }], ...extra });

async function scrape(url: string, token: string | null = ADMIN): Promise<Exposition> {
  const res = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(await res.text());
}

describe("GET /metrics counts the traffic", () => {
  let t: GatewayWithMock;
  const post = (gateway: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${t.gw.base(gateway)}/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test", "cf-aig-custom-cost": JSON.stringify(PRICE), ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    t = await gatewayWithMock({
      server: { adminToken: ADMIN },
      gateways: { cached: { cache: { ttl: 600 } }, limited: { rateLimit: { limit: 1, interval: 3600 } } },
      plugins: ["cache", "rate-limit", "logging"],
    });
    const answers = [
      await post("default", chat("model-a")),
      await post("default", chat("model-a")),
      await post("default", chat("model-a"), { "x-mock-status": "500" }),
      await post("default", chat('evil"model\\with\nnewline')),
      await post("cached", chat("model-b")),
      await post("cached", chat("model-b")),
      await post("limited", chat("model-c")),
      await post("limited", chat("model-c")),
    ];
    expect(answers.map((res) => res.status)).toEqual([200, 200, 500, 200, 200, 200, 200, 429]);
    expect(answers[5].headers.get("cf-aig-cache-status")).toBe("HIT");
    await Promise.all(answers.map((res) => res.arrayBuffer()));
    await t.gw.settle();
  });
  afterAll(() => t[Symbol.asyncDispose]());

  test("requests by gateway, provider, model, status class and cache result", async () => {
    const m = await scrape(t.gw.url);
    const rows = m.samples("switchboard_requests_total").map((s) => ({ ...s.labels, n: s.value }));
    const openai = { provider: "openai" };
    expect(rows.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual(
      [
        { gateway: "cached", ...openai, model: "model-b", status: "2xx", cache: "hit", n: 1 },
        { gateway: "cached", ...openai, model: "model-b", status: "2xx", cache: "miss", n: 1 },
        { gateway: "default", ...openai, model: 'evil"model\\with\nnewline', status: "2xx", cache: "miss", n: 1 },
        { gateway: "default", ...openai, model: "model-a", status: "2xx", cache: "miss", n: 2 },
        { gateway: "default", ...openai, model: "model-a", status: "5xx", cache: "miss", n: 1 },
        { gateway: "limited", ...openai, model: "model-c", status: "2xx", cache: "miss", n: 1 },
        // Refused before its body was read: the record names no model.
        { gateway: "limited", ...openai, model: "unknown", status: "4xx", cache: "miss", n: 1 },
      ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
  });

  test("tokens and cost match what the provider reported and the stored logs", async () => {
    const m = await scrape(t.gw.url);
    const usage = expectedUsage(chat("model-a"));
    // Two answers with usage on model-a (the 500 has none).
    expect(m.value("switchboard_tokens_total", { gateway: "default", model: "model-a", direction: "in" })).toBe(2 * usage.promptTokens);
    expect(m.value("switchboard_tokens_total", { gateway: "default", model: "model-a", direction: "out" })).toBe(2 * usage.completionTokens);
    const perRequest = usage.promptTokens * PRICE.per_token_in + usage.completionTokens * PRICE.per_token_out;
    expect(m.value("switchboard_cost_usd_total", { gateway: "default", model: "model-a" })).toBeCloseTo(2 * perRequest, 10);
    // The cache hit costs 0 but its tokens are the stored answer's.
    expect(m.value("switchboard_cost_usd_total", { gateway: "cached" })).toBeCloseTo(perRequest, 10);
    for (const gateway of ["default", "cached", "limited"]) {
      const logs = await t.logs(gateway);
      expect(m.value("switchboard_cost_usd_total", { gateway })).toBeCloseTo(logs.reduce((sum, log) => sum + (log.cost ?? 0), 0), 10);
      expect(m.value("switchboard_tokens_total", { gateway, direction: "in" })).toBe(logs.reduce((sum, log) => sum + (log.tokens_in ?? 0), 0));
    }
  });

  test("histograms count every request, and rate-limited refusals are counted per gateway", async () => {
    const m = await scrape(t.gw.url);
    const durations = m.histograms("switchboard_request_duration_seconds");
    expect(durations.reduce((sum, h) => sum + h.count, 0)).toBe(8);
    expect(m.histograms("switchboard_request_duration_seconds", { gateway: "default", status: "2xx", cache: "miss" })[0].count).toBe(3);
    expect(durations.every((h) => !("model" in h.labels))).toBe(true);
    expect(m.histograms("switchboard_time_to_first_byte_seconds").map((h) => [h.labels, h.count]).sort()).toEqual(
      [
        [{ gateway: "cached", provider: "openai" }, 2],
        [{ gateway: "default", provider: "openai" }, 4],
        [{ gateway: "limited", provider: "openai" }, 2],
      ].sort(),
    );
    expect(m.samples("switchboard_rate_limited_total").map((s) => [s.labels.gateway, s.value]).sort()).toEqual([
      ["cached", 0],
      ["default", 0],
      ["limited", 1],
    ]);
    expect(m.families.get("switchboard_requests_total")!.type).toBe("counter");
    expect(m.families.get("switchboard_requests_in_flight")!.type).toBe("gauge");
  });

  test("the in-flight gauge counts a stream that is still running", async () => {
    const hold = t.upstream.holdStream();
    const res = await post("default", chat("model-a", { stream: true }));
    await hold.firstChunkSent;
    expect((await scrape(t.gw.url)).value("switchboard_requests_in_flight")).toBe(1);
    hold.release();
    await res.text();
    await t.gw.settle();
    expect((await scrape(t.gw.url)).value("switchboard_requests_in_flight")).toBe(0);
  });
});

describe("who may read /metrics", () => {
  const start = (server: Record<string, unknown>) => gatewayWithMock({ server });
  const status = async (url: string, token?: string) =>
    (await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} })).status;

  test('"admin" (the default) needs the admin token: 401 without or with a wrong one, 200 with it', async () => {
    await using t = await start({ adminToken: ADMIN });
    const res = await fetch(`${t.gw.url}/metrics`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errors: { code: number }[] }).errors[0].code).toBe(ErrorCode.AdminUnauthorized);
    expect(await status(t.gw.url, "wrong-token-123")).toBe(401);
    expect(await status(t.gw.url, ADMIN)).toBe(200);
  });

  test("without an admin token it is 403, like the admin API", async () => {
    await using t = await start({});
    expect(await status(t.gw.url)).toBe(403);
  });

  test('"public" is open to anyone', async () => {
    await using t = await start({ metrics: "public", adminToken: ADMIN });
    await scrape(t.gw.url, null);
  });

  test('"off" answers 403 even to the admin', async () => {
    await using t = await start({ metrics: "off", adminToken: ADMIN });
    expect(await status(t.gw.url, ADMIN)).toBe(403);
  });
});

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  const side = { headers: {}, contentType: null, size: 0, body: null, truncated: false };
  return {
    logId: "log",
    eventId: "event",
    gatewayId: "default",
    accountId: "local",
    createdAt: Date.now(),
    requestType: "provider",
    provider: "openai",
    model: "gpt-4o",
    path: "chat/completions",
    method: "POST",
    step: 0,
    status: 200,
    success: true,
    cached: false,
    durationMs: 120,
    ttfbMs: 80,
    usage: { tokensIn: 10, tokensOut: 5, cacheReadTokens: 0, cacheWriteTokens: 0 },
    cost: 0.0001,
    customCost: false,
    metadata: {},
    userAgent: null,
    tokenId: null,
    error: null,
    aborted: false,
    attempts: [],
    request: side,
    response: side,
    collectLog: true,
    collectPayload: false,
    ...overrides,
  };
}

describe("RequestMetrics", () => {
  test('past the cap on label sets, new models are counted as model="other"', () => {
    const metrics = new RequestMetrics({ maxSeries: 3 });
    for (const model of ["a", "b", "c", "d", "e", "e"]) metrics.observe(record({ model }));
    const m = parseExposition(metrics.render(0));
    expect(m.samples("switchboard_requests_total").map((s) => [s.labels.model, s.value])).toEqual([
      ["a", 1],
      ["b", 1],
      ["c", 1],
      [OTHER_MODEL, 3],
    ]);
    expect(m.value("switchboard_metrics_folded_total")).toBe(3);
    expect(m.value("switchboard_tokens_total", { model: OTHER_MODEL, direction: "in" })).toBe(30);
  });

  test("an empty registry renders a valid exposition", () => {
    const m = parseExposition(new RequestMetrics().render(2));
    expect(m.value("switchboard_requests_in_flight")).toBe(2);
    expect(m.samples("switchboard_requests_total")).toEqual([]);
  });

  test("counting a record costs about a microsecond", () => {
    const metrics = new RequestMetrics({ gateways: ["default"] });
    const models = Array.from({ length: 50 }, (_, i) => `model-${i}`);
    const records = Array.from({ length: 100_000 }, (_, i) =>
      record({ model: models[i % 50], status: i % 17 === 0 ? 500 : 200, cached: i % 5 === 0, durationMs: (i % 1000) * 3, ttfbMs: i % 300 }),
    );
    for (const r of records.slice(0, 10_000)) metrics.observe(r); // warm up the JIT
    const started = performance.now();
    for (const r of records) metrics.observe(r);
    const perRecordUs = ((performance.now() - started) * 1000) / records.length;
    const renderStarted = performance.now();
    const text = metrics.render(0);
    const renderMs = performance.now() - renderStarted;
    console.log(`metrics: ${perRecordUs.toFixed(3)} µs per record; a scrape of ${text.split("\n").length} lines renders in ${renderMs.toFixed(2)} ms`);
    parseExposition(text);
    // Generous: a slow CI machine must not fail this; a regression to a per-record scan would.
    expect(perRecordUs).toBeLessThan(20);
  });
});
