/**
 * Issue 22, access: the admin API (which the dashboard's data comes from), analytics and `/metrics`
 * refuse without the admin token — 401/2131 in the V4 envelope for a missing or wrong one, 403/2130
 * when none is configured, before anything else is looked at; CORS is closed (no
 * `access-control-allow-*` header on any answer to a foreign Origin, a provider's own included, and a
 * preflight refused before it reaches a provider); and the admin token is compared in constant time.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, GatewayError } from "../../src/pipeline/errors.ts";
import { adminAuthorizer } from "../../src/server/admin/auth.ts";
import { answerOf, expectAlive, expectClear } from "../support/hardening-checks.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";

// Bun's default 5 s is short for cases that overflow the stack or flood a socket on 2 shared cores.
setDefaultTimeout(30_000);

const ADMIN = "hardening-access-admin-token-0123456789";
const ORIGIN = "https://evil.example";
const LOG_ID = "01ABCDEFGHJKMNPQRSTVWXYZ00";

/** Every admin API route, as the dashboard and Cloudflare's client call them. */
const ADMIN_ROUTES: [string, string][] = [
  ["GET", "/gateways"],
  ["GET", "/gateways/default"],
  ["GET", "/gateways/default/logs"],
  ["DELETE", "/gateways/default/logs"],
  ["GET", `/gateways/default/logs/${LOG_ID}`],
  ["GET", `/gateways/default/logs/${LOG_ID}/request`],
  ["GET", `/gateways/default/logs/${LOG_ID}/response`],
  ["PATCH", `/gateways/default/logs/${LOG_ID}`],
  ["GET", "/gateways/default/analytics"],
  ["GET", "/gateways/default/tokens"],
  ["POST", "/gateways/default/tokens"],
  ["DELETE", "/gateways/default/tokens/tok_x"],
  ["GET", "/gateways/default/breakers"],
  ["GET", "/gateways/default/budgets"],
  // An unknown gateway is refused the same way: without the token, nothing says whether it exists.
  ["GET", "/gateways/nope/logs"],
];

/** Authorization headers that are not the admin token. */
const WRONG: [string, Record<string, string>][] = [
  ["no Authorization", {}],
  ["an empty Bearer", { authorization: "Bearer" }],
  ["a wrong token", { authorization: "Bearer not-the-admin-token" }],
  ["the token without Bearer", { authorization: ADMIN }],
  ["the token as Basic", { authorization: `Basic ${ADMIN}` }],
  ["the token minus its last character", { authorization: `Bearer ${ADMIN.slice(0, -1)}` }],
  ["the token plus a character", { authorization: `Bearer ${ADMIN}x` }],
  ["the token in upper case", { authorization: `Bearer ${ADMIN.toUpperCase()}` }],
  ["a 10 KB token", { authorization: `Bearer ${"a".repeat(10_000)}` }],
  ["the token in x-api-key", { "x-api-key": ADMIN }],
  ["the token in cf-aig-authorization", { "cf-aig-authorization": `Bearer ${ADMIN}` }],
];

/** A provider that allows every origin, as some real ones do: its CORS headers must not reach the client. */
let corsProvider: ReturnType<typeof Bun.serve>;
let t: GatewayWithMock;
beforeAll(async () => {
  corsProvider = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      const cors = { "access-control-allow-origin": "*", "access-control-allow-credentials": "true", "access-control-allow-headers": "*", "access-control-allow-methods": "*", "access-control-expose-headers": "*", "access-control-max-age": "86400" };
      if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: cors });
      return Response.json({ id: "chatcmpl-cors", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }] }, { headers: cors });
    },
  });
  t = await gatewayWithMock({
    server: { adminToken: ADMIN },
    providers: { "custom-cors": { baseUrl: `http://127.0.0.1:${corsProvider.port}/v1` } },
    gateways: { cached: { cache: { ttl: 60 } } },
  });
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
  corsProvider.stop(true);
});

const adminUrl = (path: string) => `${t.gw.url}/client/v4/accounts/local/ai-gateway${path}`;
const adminRequest = (method: string, path: string, headers: Record<string, string>) =>
  fetch(adminUrl(path), { method, headers, body: method === "POST" || method === "PATCH" ? "{}" : undefined });

describe("the admin API refuses without the admin token", () => {
  test.each(WRONG)("%s: every route and /metrics answer 401/2131 in the V4 envelope", async (_, headers) => {
    const answers = await Promise.all([...ADMIN_ROUTES.map(([method, path]) => adminRequest(method, path, headers)), fetch(`${t.gw.url}/metrics`, { headers })]);

    for (const [i, answer] of answers.entries()) {
      const what = i < ADMIN_ROUTES.length ? ADMIN_ROUTES[i].join(" ") : "GET /metrics";
      const read = await answerOf(answer);
      expectClear(read, what, [[401, ErrorCode.AdminUnauthorized]], { success: false });
      expect({ what, v4: JSON.parse(read.body) }).toMatchObject({ what, v4: { errors: [{ code: ErrorCode.AdminUnauthorized }], messages: [], result: null } });
    }
  });

  test("with the token every route answers (a missing log or token is its own 404), the scheme's case does not matter", async () => {
    const statuses = [];
    for (const [method, path] of ADMIN_ROUTES) statuses.push((await adminRequest(method, path, { authorization: `bearer   ${ADMIN}` })).status);
    const metrics = await fetch(`${t.gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });

    expect(statuses).toEqual([200, 200, 200, 200, 404, 404, 404, 404, 200, 200, 200, 404, 200, 200, 404]);
    expect(metrics.status).toBe(200);
  });

  test("the dashboard page itself is public and holds no data: no token, no log, no gateway detail", async () => {
    const page = await fetch(`${t.gw.url}/`, { headers: { origin: ORIGIN } });
    const html = await page.text();

    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(html).not.toContain(ADMIN);
    expect(html).not.toMatch(/[0-9A-HJKMNP-TV-Z]{26}/);
  });

  test("without a configured admin token every route and /metrics answer 403/2130, whatever is sent", async () => {
    const saved = process.env.SWITCHBOARD_ADMIN_TOKEN;
    delete process.env.SWITCHBOARD_ADMIN_TOKEN;
    await using open = await gatewayWithMock();
    if (saved !== undefined) process.env.SWITCHBOARD_ADMIN_TOKEN = saved;

    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer undefined" }, { authorization: "Bearer " }, { authorization: `Bearer ${ADMIN}` }];
    for (const headers of attempts) {
      const answers = await Promise.all([
        ...ADMIN_ROUTES.map(([method, path]) => fetch(`${open.gw.url}/client/v4/accounts/local/ai-gateway${path}`, { method, headers, body: method === "POST" || method === "PATCH" ? "{}" : undefined })),
        fetch(`${open.gw.url}/metrics`, { headers }),
      ]);
      for (const answer of answers) expectClear(await answerOf(answer), `${JSON.stringify(headers)} ${answer.url}`, [[403, ErrorCode.AdminDisabled]], { success: false });
    }
  });

  test("server.metrics: \"public\" opens /metrics to anyone, \"off\" refuses it with 403 even with the token", async () => {
    await using publicMetrics = await gatewayWithMock({ server: { adminToken: ADMIN, metrics: "public" } });
    await using off = await gatewayWithMock({ server: { adminToken: ADMIN, metrics: "off" } });

    const open = await fetch(`${publicMetrics.gw.url}/metrics`);
    const closed = await answerOf(await fetch(`${off.gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } }));

    expect({ status: open.status, type: open.headers.get("content-type") }).toEqual({ status: 200, type: "text/plain; version=0.0.4; charset=utf-8" });
    await open.arrayBuffer();
    expectClear(closed, "metrics off", [[403, ErrorCode.AdminDisabled]], { success: false });
  });
});

describe("CORS is closed", () => {
  const corsHeaders = (response: Response) => [...response.headers.keys()].filter((name) => name.startsWith("access-control-"));

  test("no answer to a foreign Origin carries an access-control header: provider route, Universal, compat, admin, metrics, health, dashboard, errors", async () => {
    const origin = { origin: ORIGIN, "content-type": "application/json" };
    const chat = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    const requests: [string, string, RequestInit][] = [
      ["provider route (mock)", `${t.gw.base()}/openai/chat/completions`, { method: "POST", headers: origin, body: chat }],
      ["provider route (a provider that allows *)", `${t.gw.base()}/custom-cors/chat/completions`, { method: "POST", headers: origin, body: chat }],
      ["its answer again, from the cache", `${t.gw.base("cached")}/custom-cors/chat/completions`, { method: "POST", headers: origin, body: chat }],
      ["its answer, first time through the cache", `${t.gw.base("cached")}/custom-cors/chat/completions`, { method: "POST", headers: origin, body: chat }],
      ["Universal", t.gw.base(), { method: "POST", headers: origin, body: JSON.stringify([{ provider: "custom-cors", endpoint: "chat/completions", query: {} }]) }],
      ["compat", `${t.gw.base()}/compat/chat/completions`, { method: "POST", headers: origin, body: JSON.stringify({ model: "custom-cors/m", messages: [{ role: "user", content: "hi" }] }) }],
      ["compat models", `${t.gw.base()}/compat/models`, { headers: origin }],
      ["admin API", adminUrl("/gateways"), { headers: { ...origin, authorization: `Bearer ${ADMIN}` } }],
      ["admin API refusal", adminUrl("/gateways"), { headers: origin }],
      ["metrics", `${t.gw.url}/metrics`, { headers: { ...origin, authorization: `Bearer ${ADMIN}` } }],
      ["health", `${t.gw.url}/health`, { headers: origin }],
      ["dashboard", `${t.gw.url}/`, { headers: origin }],
      ["unknown route", `${t.gw.url}/nope`, { headers: origin }],
      ["unknown gateway", `${t.gw.url}/v1/local/nope/openai/x`, { method: "POST", headers: origin, body: chat }],
    ];

    const seen: Record<string, string[]> = {};
    for (const [what, url, init] of requests) {
      const response = await fetch(url, init);
      await response.arrayBuffer();
      seen[what] = corsHeaders(response);
    }

    expect(seen).toEqual(Object.fromEntries(requests.map(([what]) => [what, []])));
  });

  test("a preflight to a provider route is refused with 403/2117 and never reaches the provider", async () => {
    const before = t.upstream.requests.length;
    const preflight = (path: string) =>
      fetch(`${t.gw.base()}${path}`, { method: "OPTIONS", headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });

    const answers = [await preflight("/openai/chat/completions"), await preflight("/custom-cors/chat/completions"), await preflight(""), await preflight("/compat/chat/completions")];

    for (const answer of answers) {
      expect(corsHeaders(answer)).toEqual([]);
      expectClear(await answerOf(answer), `preflight ${answer.url}`, [[403, ErrorCode.CrossOriginRefused]], { success: false });
    }
    expect(t.upstream.requests.length).toBe(before);
  });

  test("a preflight to the admin API, /metrics or /health gets no CORS header either (404 envelope)", async () => {
    for (const url of [adminUrl("/gateways"), `${t.gw.url}/metrics`, `${t.gw.url}/health`, `${t.gw.url}/`]) {
      const answer = await fetch(url, { method: "OPTIONS", headers: { origin: ORIGIN, "access-control-request-method": "GET", "access-control-request-headers": "authorization" } });
      expect({ url, cors: corsHeaders(answer) }).toEqual({ url, cors: [] });
      expect(answer.status).toBeGreaterThanOrEqual(400);
      await answer.arrayBuffer();
    }
    await expectAlive(t.gw.url);
  });

  test("an OPTIONS that is not a preflight (no Origin) still reaches the provider, as provider APIs use it", async () => {
    const before = t.upstream.requests.length;

    const answer = await fetch(`${t.gw.base()}/custom-mock/echo`, { method: "OPTIONS" });

    expect(answer.status).toBe(200);
    expect(t.upstream.requests.slice(before).map(({ method, path }) => `${method} ${path}`)).toEqual(["OPTIONS /custom/echo"]);
  });

  // Opened by `server.cors`: test/security/cors.test.ts.
});

describe("the admin token is compared in constant time", () => {
  test("the comparison hashes both sides and uses timingSafeEqual, the presented token nowhere else (read from the code)", () => {
    const source = readFileSync(join(import.meta.dir, "../../src/server/admin/auth.ts"), "utf8");
    const code = source.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");

    expect(code).toContain('import { timingSafeEqual } from "node:crypto"');
    const logic = code.replace(/"(?:[^"\\]|\\.)*"/g, '""');
    // The configured token is hashed once; the presented one is only ever hashed, then compared with timingSafeEqual.
    expect(logic).toMatch(/const expected = adminToken === undefined \? null : digest\(adminToken\)/);
    expect(logic).toMatch(/timingSafeEqual\(digest\(match\[1\]\), expected\)/);
    expect(logic.match(/match\[1\]/g)).toEqual(["match[1]"]);
    // The parameter, the check for none, the digest: nothing else touches the configured token.
    expect(logic.match(/adminToken/g)?.length).toBe(3);
    // Nothing compares the secrets with == or !==, or with string methods that stop at the first difference.
    expect([...logic.matchAll(/(?:match\[1\]|adminToken|expected)\s*[!=]==?\s*([\w.]+)/g)].map((m) => m[1])).toEqual(["undefined"]);
    expect(logic).not.toMatch(/\.(startsWith|endsWith|includes|localeCompare)\(/);
    // /metrics uses the same gate.
    expect(readFileSync(join(import.meta.dir, "../../src/server/metrics/route.ts"), "utf8")).toContain("adminAuthorizer(options.adminToken)");
  });

  test("tokens of any length are compared without error: digests make both sides 32 bytes", () => {
    const authorize = adminAuthorizer(ADMIN);
    const attempt = (authorization: string | null) => {
      try {
        authorize(new Request("http://gw/", { headers: authorization === null ? {} : { authorization } }));
        return "admitted";
      } catch (error) {
        return error instanceof GatewayError ? `${error.status}/${error.code}` : `crash: ${String(error)}`;
      }
    };

    expect({
      exact: attempt(`Bearer ${ADMIN}`),
      lowerScheme: attempt(`bearer ${ADMIN}`),
      oneShort: attempt(`Bearer ${ADMIN.slice(0, -1)}`),
      oneLong: attempt(`Bearer ${ADMIN}0`),
      lastCharDiffers: attempt(`Bearer ${ADMIN.slice(0, -1)}X`),
      empty: attempt("Bearer "),
      none: attempt(null),
      huge: attempt(`Bearer ${"z".repeat(100_000)}`),
      nonAscii: attempt(`Bearer ${ADMIN.replace("a", "\u00e4")}`),
    }).toEqual({
      exact: "admitted",
      lowerScheme: "admitted",
      oneShort: "401/2131",
      oneLong: "401/2131",
      lastCharDiffers: "401/2131",
      empty: "401/2131",
      none: "401/2131",
      huge: "401/2131",
      nonAscii: "401/2131",
    });
    const disabled = adminAuthorizer(undefined);
    expect(() => disabled(new Request("http://gw/", { headers: { authorization: "Bearer undefined" } }))).toThrow(expect.objectContaining({ status: 403, code: ErrorCode.AdminDisabled }));
  });
});
