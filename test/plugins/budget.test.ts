import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { budget } from "../../plugins/budget/index.ts";
import { ErrorCode, type GatewayConfig } from "../../src/sdk.ts";
import { startTestGateway, type TestGateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

const ADMIN_TOKEN = "admin-token-for-budget-tests";
/** 12:10:00 UTC: ten minutes into a clock-aligned hour, so hourly windows end in 3000 s. */
const START = Date.UTC(2030, 0, 1, 12, 10);
let clock = START;

/**
 * Output tokens at $0.20, prompt tokens free: the mock answers 5 output tokens, so every chat costs
 * exactly $1, and with `max_tokens: 5` the reservation is exactly $1 too.
 */
const ONE_DOLLAR = JSON.stringify({ per_token_in: 0, per_token_out: 0.2 });

const gateways: Record<string, GatewayConfig> = {
  crowd: { budgets: [{ usd: 2.5, interval: "1h" }] },
  unbounded: { budgets: [{ usd: 2.5, interval: "1h" }] },
  hourly: { budgets: [{ usd: 1, interval: 3600, name: "hourly" }] },
  sliding: { budgets: [{ usd: 2, interval: "1h", technique: "sliding" }] },
  cached: { cache: { ttl: 300 }, budgets: [{ usd: 1.5, interval: "1d" }] },
  team: { budgets: [{ usd: 1, interval: "1d", key: "metadata:team", name: "team-daily" }] },
  user: { budgets: [{ usd: 1, interval: "1d", key: "header:X-User" }] },
  models: { budgets: [{ usd: 1, interval: "1d", provider: "open*", model: "gpt-4o*" }] },
  idle: { budgets: [{ usd: 1, interval: "1d" }] },
  admin: { budgets: [{ usd: 10, interval: "1h", key: "header:x-user", name: "per-user" }] },
};

let upstream: MockUpstream;
let gw: TestGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gw = await startTestGateway({
    upstream: upstream.url,
    config: { server: { adminToken: ADMIN_TOKEN }, gateways, plugins: ["metadata", "cache", budget({ now: () => clock }), "logging"] },
  });
});
afterAll(async () => {
  await gw.stop();
  await upstream.stop();
});
beforeEach(() => {
  upstream.reset();
  clock = START;
});

interface ChatOptions {
  model?: string;
  content?: string;
  stream?: boolean;
  /** null: no `max_tokens` in the body. @default 5 */
  maxTokens?: number | null;
  headers?: Record<string, string>;
}

/** One $1 chat completion (see {@link ONE_DOLLAR}); its body is read to the end. */
async function chat(gateway: string, options: ChatOptions = {}): Promise<Response> {
  const res = await send(gateway, options);
  await res.arrayBuffer();
  return res;
}

function send(gateway: string, { model = "gpt-4o-mini", content = "hi", stream = false, maxTokens = 5, headers = {} }: ChatOptions = {}) {
  const body = {
    model,
    messages: [{ role: "user", content }],
    ...(maxTokens === null ? {} : { max_tokens: maxTokens }),
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  };
  return fetch(`${gw.base(gateway)}/openai/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test", "cf-aig-custom-cost": ONE_DOLLAR, ...headers },
    body: JSON.stringify(body),
  });
}

/** Sends one request after the other, each settled (its cost charged) before the next, and lists the statuses. */
async function statuses(...calls: (() => Promise<Response>)[]): Promise<number[]> {
  const out: number[] = [];
  for (const call of calls) {
    out.push((await call()).status);
    await gw.settle();
  }
  return out;
}

async function budgets(gateway: string) {
  const res = await fetch(`${gw.url}/client/v4/accounts/local/ai-gateway/gateways/${gateway}/budgets`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { result: Record<string, unknown>[] }).result;
}

test("concurrent streaming requests: only those admitted while settled + reserved was under the limit get through", async () => {
  // $2.50 with $1 reservations: the third request is admitted at $2 reserved and crosses the limit; no fourth.
  const answers = await Promise.all(Array.from({ length: 10 }, () => send("crowd", { stream: true })));
  const bodies = await Promise.all(answers.map((r) => r.text()));
  await gw.settle();
  expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
  expect(bodies.filter((b) => b.includes("[DONE]"))).toHaveLength(3);
  expect(upstream.requests).toHaveLength(3);
  // The documented overshoot: one request's cost past $2.50, never more.
  expect(await budgets("crowd")).toEqual([expect.objectContaining({ key: "gateway", spent: 3, reserved: 0 })]);
  expect((await chat("crowd")).status).toBe(429);
});

test("without max_tokens a request reserves only its prompt, so concurrent ones are bounded by that reservation alone", async () => {
  const holds = [upstream.holdStream(), upstream.holdStream(), upstream.holdStream(), upstream.holdStream()];
  const answers = await Promise.all(Array.from({ length: 4 }, () => send("unbounded", { stream: true, maxTokens: null })));
  await Promise.all(holds.map((h) => h.firstChunkSent));
  // Prompt tokens are free here, so nothing was reserved: all four were admitted before any settled.
  expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
  for (const hold of holds) hold.release();
  await Promise.all(answers.map((r) => r.text()));
  await gw.settle();
  expect(await budgets("unbounded")).toEqual([expect.objectContaining({ spent: 4, reserved: 0 })]);
  expect((await chat("unbounded")).status).toBe(429);
});

test("answers 429 with code 2041, Cloudflare's message and Retry-After to the window's end, then resets with the window", async () => {
  expect(await statuses(() => chat("hourly"))).toEqual([200]);
  const refused = await send("hourly");
  expect(refused.status).toBe(429);
  expect(refused.headers.get("retry-after")).toBe("3000");
  const message = "Spend limit exceeded: rule 'hourly' (cost limit 1 per 3600s, fixed) for openai gpt-4o-mini";
  expect(await refused.json()).toEqual({
    success: false,
    error: [{ code: ErrorCode.SpendLimited, message }],
    name: "AiGatewayError",
    httpCode: 429,
    internalCode: 2041,
    message,
  } as never);
  expect(upstream.requests).toHaveLength(1);

  clock = START + 2999_000;
  expect(await statuses(() => chat("hourly"))).toEqual([429]);
  clock = START + 3000_000;
  expect(await statuses(() => chat("hourly"), () => chat("hourly"))).toEqual([200, 429]);
});

test("a sliding window weighs the previous window's spend", async () => {
  expect(await statuses(() => chat("sliding"), () => chat("sliding"), () => chat("sliding"))).toEqual([200, 200, 429]);
  // 12:30 next hour: $2 × (1 − 0.5) = $1 still counts, so one more $1 request fits.
  clock = START + 3600_000 + 1200_000;
  expect(await statuses(() => chat("sliding"), () => chat("sliding"))).toEqual([200, 429]);
});

test("cache hits cost nothing and are never refused", async () => {
  const first = await chat("cached", { content: "the same question" });
  await gw.settle();
  const hit = await chat("cached", { content: "the same question" });
  expect([first.headers.get("cf-aig-cache-status"), hit.headers.get("cf-aig-cache-status")]).toEqual(["MISS", "HIT"]);
  await gw.settle();
  // $1 spent: one more miss fits under $1.50 and spends it; hits still answer, misses do not.
  expect(await statuses(() => chat("cached", { content: "another one" }), () => chat("cached", { content: "the same question" }), () => chat("cached", { content: "a third" }))).toEqual([200, 200, 429]);
  expect(upstream.requests).toHaveLength(2);
});

test("keys by metadata value; requests without the value are not counted", async () => {
  const team = (name: string) => () => chat("team", { headers: { "cf-aig-metadata": JSON.stringify({ team: name }) } });
  expect(await statuses(team("ml"), team("ml"), team("web"), () => chat("team"), () => chat("team"))).toEqual([200, 429, 200, 200, 200]);
});

test("keys by header value", async () => {
  const user = (name: string) => () => chat("user", { headers: { "x-user": name } });
  expect(await statuses(user("ada"), user("ada"), user("bob"), () => chat("user"))).toEqual([200, 429, 200, 200]);
});

test("provider and model globs choose the requests a rule counts", async () => {
  const other = () => chat("models", { model: "gpt-3.5-turbo" });
  expect(await statuses(() => chat("models"), () => chat("models", { model: "gpt-4o" }), other, other)).toEqual([200, 429, 200, 200]);
});

test("the admin route lists each bucket's spend and reservation in the current window", async () => {
  // Settled first: settling waits for every request in flight, the held one included.
  expect(await statuses(() => chat("admin", { headers: { "x-user": "bob" } }))).toEqual([200]);
  const hold = upstream.holdStream();
  const held = await send("admin", { stream: true, headers: { "x-user": "ada" } });
  await hold.firstChunkSent;
  // The admin API reads the real clock, which is behind this test's 2030 clock: it shows the buckets' windows as stored.
  const window = { usd: 10, interval_seconds: 3600, technique: "fixed", window_start: "2030-01-01T12:00:00.000Z", resets_at: "2030-01-01T13:00:00.000Z" };
  expect(await budgets("admin")).toEqual([
    { name: "per-user", key: "header:x-user=ada", spent: 0, reserved: 1, ...window },
    { name: "per-user", key: "header:x-user=bob", spent: 1, reserved: 0, ...window },
  ]);
  hold.release();
  await held.text();
  await gw.settle();
  expect((await budgets("admin"))[0]).toEqual({ name: "per-user", key: "header:x-user=ada", spent: 1, reserved: 0, ...window });
  expect(await budgets("idle")).toEqual([]);
});
