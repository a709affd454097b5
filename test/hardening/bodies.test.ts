/**
 * Issue 22, hardening: malformed and huge JSON, invalid UTF-8, oversized headers and bodies, and
 * names that are Object.prototype's own (`constructor`, `__proto__`) on every route that reads a
 * body or looks a name up — provider route, Universal, compat, admin API. Each answer is clear (the
 * provider's, or the AiGatewayError envelope with a documented code; Bun's own bare 431 for a head
 * over its limit), and after each group the gateway still answers `/health`.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { answerOf, expectAlive, expectClear, type Allowed } from "../support/hardening-checks.ts";
import { rawHttp } from "../support/raw-http.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";

// Bun's default 5 s is short for cases that overflow the stack or flood a socket on 2 shared cores.
setDefaultTimeout(30_000);

const ADMIN = "hardening-admin-token-0123456789";
const MAX_BODY = 1024 * 1024;
const json = { "content-type": "application/json" };
const admin = { authorization: `Bearer ${ADMIN}` };

let t: GatewayWithMock;
beforeAll(async () => {
  t = await gatewayWithMock({
    server: { adminToken: ADMIN, maxBodyBytes: MAX_BODY },
    gateways: { default: { cache: { ttl: 60 } } },
    routes: { chat: { targets: [{ model: "openai/gpt-4o-mini" }] } },
    plugins: ["auth", "metadata", "cache", "budget", "rate-limit", "fallback", "logging"],
  });
});
afterAll(() => t[Symbol.asyncDispose]());

const adminUrl = (path: string) => `${t.gw.url}/client/v4/accounts/local/ai-gateway/gateways/default${path}`;
const post = async (url: string, body: RequestInit["body"], headers: Record<string, string> = json) => answerOf(await fetch(url, { method: "POST", headers, body }));

/** Bodies that are not JSON, or JSON of the wrong shape for a step or a chat request. */
const MALFORMED: string[] = [
  "",
  " ",
  "{",
  "[",
  "[{]",
  "nul",
  '"a string"',
  "42",
  "true",
  "null",
  "[]",
  "[null]",
  "[[]]",
  "[1,2]",
  "{}",
  "\uFEFF[{}]",
  "[{}] trailing",
  '{"a":1,}',
  "1e999",
  "NaN",
  '{"a":"\\ud800"}',
  '["\\u0000"]',
  '[{"provider":1}]',
  '{"provider":"openai"}',
  '{"provider":"openai","endpoint":{}}',
  '{"provider":"openai","endpoint":"chat/completions","headers":[]}',
  '{"provider":"openai","endpoint":"chat/completions","config":{"maxAttempts":1e309}}',
  '{"provider":"openai","endpoint":"chat/completions","config":{"backoff":"sideways"}}',
  '{"__proto__":{"provider":"openai","endpoint":"chat/completions"}}',
  JSON.stringify(Array.from({ length: 33 }, () => ({ provider: "openai", endpoint: "chat/completions" }))),
  '{"model":5,"messages":[]}',
  '{"model":"openai/gpt-4o-mini","messages":"hi"}',
  '{"model":"anthropic/claude","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":5}}]}]}',
  '{"model":"google/gemini","messages":[{"role":"user","content":[null]}]}',
];

/** Invalid UTF-8 byte sequences: a lone 0xFF, an overlong `/`, a surrogate in CESU-8, a cut-off sequence. */
const INVALID_UTF8: [string, number[]][] = [
  ["0xFF 0xFE", [0xff, 0xfe]],
  ["overlong slash", [0xc0, 0xaf]],
  ["CESU-8 surrogate", [0xed, 0xa0, 0x80]],
  ["cut-off sequence", [0xe2, 0x82]],
];
const withBytes = (before: string, bytes: number[], after: string) => new Uint8Array([...Buffer.from(before), ...bytes, ...Buffer.from(after)]);

/** `depth` nested arrays around `inner`: JSON.parse takes it; anything that recurses over it may not. */
const nested = (depth: number, inner = "1") => `${"[".repeat(depth)}${inner}${"]".repeat(depth)}`;
const DEEP = 150_000;

describe("malformed JSON", () => {
  test.each(MALFORMED)("Universal %p is 400 (2106 or 2101) and nothing is sent", async (body) => {
    const before = t.upstream.requests.length;

    expectClear(await post(t.gw.base(), body), `universal ${body}`, [[400, ErrorCode.BadRequest], [400, ErrorCode.UnknownProvider]], { success: false });
    expect(t.upstream.requests.length).toBe(before);
  });

  test.each(MALFORMED)("compat %p is 400 (2019, 2101 or 2142) and nothing is sent", async (body) => {
    const before = t.upstream.requests.length;

    const answer = await post(`${t.gw.base()}/compat/chat/completions`, body);

    expectClear(answer, `compat ${body}`, [[400, ErrorCode.CompatBadFormat], [400, ErrorCode.UnknownProvider], [400, ErrorCode.NotTranslatable]], { success: false });
    expect(t.upstream.requests.length).toBe(before);
  });

  test("on the provider route every malformed body passes through to the provider unchanged, whatever the plugins parse", async () => {
    const before = t.upstream.requests.length;

    const answers = [];
    for (const body of MALFORMED) answers.push(await post(`${t.gw.base()}/custom-mock/echo`, body));

    expect(answers.map((answer) => answer.status)).toEqual(MALFORMED.map(() => 200));
    // (The mock reads bodies as text, which drops a byte-order mark.)
    expect(new Set(t.upstream.requests.slice(before).map((request) => request.body))).toEqual(new Set(MALFORMED.map((body) => body.replace(/^\uFEFF/, ""))));
    await expectAlive(t.gw.url);
  });

  test("a JSON array nested 150,000 deep is refused by Universal and WebSocket steps with 400, and by compat with 400/2019", async () => {
    const before = t.upstream.requests.length;

    const universal = await post(t.gw.base(), `[{"provider":"openai","endpoint":"chat/completions","query":{"model":"m","messages":[],"x":${nested(DEEP)}}}]`);
    const compatOpenai = await post(`${t.gw.base()}/compat/chat/completions`, `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"x":${nested(DEEP)}}`);
    const schema = `${'{"a":'.repeat(DEEP)}{}${"}".repeat(DEEP)}`;
    const compatGemini = await post(`${t.gw.base()}/compat/chat/completions`, `{"model":"google/gemini-2.5-flash","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${schema}}}]}`);
    const compatClaude = await post(`${t.gw.base()}/compat/chat/completions`, `{"model":"anthropic/claude","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${schema}}}]}`);

    expect([universal, compatOpenai, compatGemini, compatClaude].map(({ status, code }) => ({ status, code }))).toEqual([
      { status: 400, code: ErrorCode.BadRequest },
      { status: 400, code: ErrorCode.CompatBadFormat },
      { status: 400, code: ErrorCode.CompatBadFormat },
      { status: 400, code: ErrorCode.CompatBadFormat },
    ]);
    expect(t.upstream.requests.length).toBe(before);
    await expectAlive(t.gw.url);
  });

  test("a deeply nested body on the provider route passes through (the gateway itself does not recurse over it)", async () => {
    const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"x":${nested(DEEP)}}`;

    const answer = await post(`${t.gw.base()}/openai/chat/completions`, body);

    expect(answer.status).toBe(200);
    expect(t.upstream.lastRequest()!.body).toBe(body);
    await expectAlive(t.gw.url);
  });

  // Was a defect: `walkStrings` recursed once per level and overflowed the stack (500/2120).
  test("guardrails on a body nested 150,000 deep checks it or refuses it with 4xx, never 500", async () => {
    await using guarded = await gatewayWithMock({ gateways: { default: { guardrails: { rules: [{ detect: "email", action: "redact" }] } } }, plugins: ["guardrails", "logging"] });
    const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"x":${nested(DEEP, '"ada@example.com"')}}`;

    const answer = await answerOf(await fetch(`${guarded.gw.base()}/openai/chat/completions`, { method: "POST", headers: json, body }));

    expect(answer.status).toBeLessThan(500);
    expect(guarded.upstream.requests.every((request) => !request.body.includes("ada@example.com"))).toBe(true);
  });

  test("wide JSON — 20,000 keys, 50,000-element arrays, 500 KB strings — is served", async () => {
    const wide = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]));
    const bodies = [
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], wide },
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], list: Array.from({ length: 50_000 }, (_, i) => i) },
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "y".repeat(500_000) }] },
    ];

    const answers = await Promise.all(bodies.map((body) => post(`${t.gw.base()}/compat/chat/completions`, JSON.stringify({ ...body, model: `openai/${body.model}` }))));
    const universal = await post(t.gw.base(), JSON.stringify([{ provider: "openai", endpoint: "chat/completions", query: bodies[0] }]));

    expect([...answers, universal].map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    await expectAlive(t.gw.url);
  });
});

describe("names that are Object.prototype's own", () => {
  const PROTO = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"];

  test.each(PROTO)("%s as a provider, gateway, route, compat path, metadata key or admin gateway is an ordinary unknown name", async (name) => {
    const chat = { messages: [{ role: "user", content: "hi" }] };
    const answers: [string, Awaited<ReturnType<typeof answerOf>>, Allowed][] = [
      ["provider route", await post(`${t.gw.base()}/${name}/chat/completions`, "{}"), [[400, ErrorCode.UnknownProvider]]],
      ["gateway", await post(`${t.gw.url}/v1/local/${name}/openai/chat/completions`, "{}"), [[404, ErrorCode.UnknownGateway]]],
      ["universal provider", await post(t.gw.base(), JSON.stringify([{ provider: name, endpoint: "x" }])), [[400, ErrorCode.UnknownProvider]]],
      ["compat route", await post(`${t.gw.base()}/compat/chat/completions`, JSON.stringify({ model: `dynamic/${name}`, ...chat })), [[400, ErrorCode.UnknownRoute]]],
      ["compat path", await post(`${t.gw.base()}/compat/${name}`, "{}"), [[404, ErrorCode.NotFound]]],
      ["metadata key", await post(`${t.gw.base()}/custom-mock/echo`, "{}", { "cf-aig-metadata": `{"${name}":"x"}` }), [[400, ErrorCode.InvalidMetadata]]],
      ["admin gateway", await answerOf(await fetch(`${t.gw.url}/client/v4/accounts/local/ai-gateway/gateways/${name}/logs`, { headers: admin })), [[404, ErrorCode.UnknownGateway]]],
      ["dashboard asset", await answerOf(await fetch(`${t.gw.url}/dashboard/${name}`)), [[404, ErrorCode.NotFound]]],
    ];

    for (const [what, answer, allowed] of answers) expectClear(answer, `${name} as ${what}`, allowed, { success: what === "metadata key" });
    await expectAlive(t.gw.url);
  });

  // Was a defect: SLUG_ALIASES and FAMILIES were read without Object.hasOwn, so "constructor" found
  // Object's constructor and the request failed with 500/2121.
  test.each(PROTO)("compat model %s/x is 400/2101 like any unknown provider", async (name) => {
    for (const route of ["chat/completions", "embeddings"]) {
      const answer = await post(`${t.gw.base()}/compat/${route}`, JSON.stringify({ model: `${name}/x`, input: "hi", messages: [{ role: "user", content: "hi" }] }));
      expectClear(answer, `compat ${route} ${name}/x`, [[400, ErrorCode.UnknownProvider]], { success: false });
    }
  });
});

describe("invalid UTF-8", () => {
  test.each(INVALID_UTF8)("%s in a Universal provider, a compat model and a provider-route body: clear answers", async (_, bytes) => {
    const universal = await post(t.gw.base(), withBytes('[{"provider":"openai', bytes, '","endpoint":"chat/completions"}]'));
    const compat = await post(`${t.gw.base()}/compat/chat/completions`, withBytes('{"model":"openai', bytes, '/gpt","messages":[{"role":"user","content":"hi"}]}'));
    const content = await post(`${t.gw.base()}/compat/chat/completions`, withBytes('{"model":"anthropic/claude","messages":[{"role":"user","content":"', bytes, '"}]}'));
    const proxied = await post(`${t.gw.base()}/openai/chat/completions`, withBytes('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"', bytes, '"}]}'));

    expectClear(universal, "universal provider", [[400, ErrorCode.UnknownProvider]], { success: false });
    expectClear(compat, "compat model", [[400, ErrorCode.UnknownProvider]], { success: false });
    expect([content.status, proxied.status]).toEqual([200, 200]);
    await expectAlive(t.gw.url);
  });

  test.each(INVALID_UTF8)("%s percent-encoded in the path, and in an admin body, is 400", async (_, bytes) => {
    const encoded = bytes.map((byte) => `%${byte.toString(16).toUpperCase()}`).join("");

    const provider = await answerOf(await fetch(`${t.gw.base()}/open${encoded}ai/chat/completions`, { method: "POST", body: "{}" }));
    const endpoint = await answerOf(await fetch(`${t.gw.base()}/custom-mock/echo${encoded}`, { method: "POST", body: "{}" }));
    const patch = await answerOf(await fetch(adminUrl("/logs/01ABCDEFGHJKMNPQRSTVWXYZ00"), { method: "PATCH", headers: admin, body: withBytes('{"feedback":', bytes, "}") }));

    expectClear(provider, "provider segment", [[400, ErrorCode.BadRequest]], { success: false });
    expectClear(endpoint, "endpoint", [[400, ErrorCode.BadRequest]], { success: false });
    expectClear(patch, "admin PATCH body", [[400, ErrorCode.BadRequest]], { success: false });
    await expectAlive(t.gw.url);
  });

  test("raw non-ASCII bytes in the request-target reach Bun's parser or the envelope, never a crash", async () => {
    const targets = [Buffer.from([0xff, 0xfe]).toString("latin1"), "é", "\u0080"];

    const answers = [];
    for (const bad of targets) answers.push(await rawHttp(t.gw.url, `GET /v1/local/default/custom-mock/${bad} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`));

    for (const answer of answers) {
      // Bun answers a bare 400 to a target it cannot parse; anything that reaches the gateway is clear.
      if (answer.status === 400 && answer.body === "") continue;
      expectClear(await answerOf(answer.response()), `raw target ${JSON.stringify(answer.statusLine)}`, [[400, ErrorCode.BadRequest]]);
    }
    await expectAlive(t.gw.url);
  });
});

describe("oversized bodies", () => {
  const huge = "x".repeat(MAX_BODY + 1);

  test("one byte over server.maxBodyBytes is 413/2103 on the provider route, Universal and compat; nothing is sent", async () => {
    const before = t.upstream.requests.length;

    const answers = [
      await post(`${t.gw.base()}/openai/chat/completions`, huge),
      await post(t.gw.base(), huge),
      await post(`${t.gw.base()}/compat/chat/completions`, huge),
      // Without Content-Length the bytes are counted as they arrive.
      await post(`${t.gw.base()}/custom-mock/echo`, new Blob([huge]).stream()),
    ];

    for (const answer of answers) expectClear(answer, "over maxBodyBytes", [[413, ErrorCode.BodyTooLarge]], { success: false });
    expect(t.upstream.requests.length).toBe(before);
    await expectAlive(t.gw.url);
  });

  test("the admin API refuses a body over 64 KiB with 413 instead of holding it; a small one still works", async () => {
    const big = JSON.stringify({ name: "n".repeat(70 * 1024) });

    const declared = await answerOf(await fetch(adminUrl("/tokens"), { method: "POST", headers: admin, body: big }));
    const streamed = await answerOf(await fetch(adminUrl("/logs/01ABCDEFGHJKMNPQRSTVWXYZ00"), { method: "PATCH", headers: admin, body: new Blob([big]).stream() }));
    const small = await answerOf(await fetch(adminUrl("/tokens"), { method: "POST", headers: admin, body: JSON.stringify({ name: "small" }) }));

    expectClear(declared, "admin POST tokens 70 KiB", [[413, ErrorCode.BodyTooLarge]], { success: false });
    expectClear(streamed, "admin PATCH log 70 KiB, chunked", [[413, ErrorCode.BodyTooLarge]], { success: false });
    expect(JSON.parse(declared.body)).toMatchObject({ errors: [{ code: ErrorCode.BodyTooLarge }], messages: [], result: null });
    expect(small.status).toBe(200);
  });

  test("malformed admin bodies and query parameters are 400 in the V4 envelope", async () => {
    const requests: [string, RequestInit][] = [
      [adminUrl("/tokens"), { method: "POST", headers: admin, body: "{" }],
      [adminUrl("/tokens"), { method: "POST", headers: admin, body: '{"__proto__":{"x":1}}' }],
      [adminUrl("/tokens"), { method: "POST", headers: admin, body: '{"name":{"a":1}}' }],
      [adminUrl("/tokens"), { method: "POST", headers: admin, body: '{"expires_in":"-5d"}' }],
      [adminUrl("/logs/01ABCDEFGHJKMNPQRSTVWXYZ00"), { method: "PATCH", headers: admin, body: '{"score":1e999}' }],
      [adminUrl("/logs?filters=%7B"), { headers: admin }],
      [adminUrl("/logs?per_page=-1"), { headers: admin }],
      [adminUrl("/logs?page=1e999"), { headers: admin }],
      [adminUrl("/logs?order_by=id;drop%20table%20logs"), { headers: admin }],
      [adminUrl("/logs?filters[0][key]=x';--&filters[0][operator]=eq&filters[0][value]=1"), { headers: admin }],
      [adminUrl("/analytics?start_date=yesterday"), { headers: admin }],
      [adminUrl("/analytics?start_date=1970-01-01T00:00:00Z&end_date=2100-01-01T00:00:00Z&bucket=minute"), { headers: admin }],
      [adminUrl("/analytics?group_by=metadata."), { headers: admin }],
      [adminUrl("/logs?limit=-1"), { method: "DELETE", headers: admin }],
    ];

    for (const [url, init] of requests) {
      const answer = await answerOf(await fetch(url, init));
      expectClear(answer, `${init.method ?? "GET"} ${url}`, [[400, ErrorCode.BadRequest]], { success: false });
      expect(JSON.parse(answer.body)).toMatchObject({ errors: [{ code: ErrorCode.BadRequest }], messages: [], result: null });
    }
    await expectAlive(t.gw.url);
  });
});

describe("oversized heads", () => {
  test("a header, a URL or a head over Bun's 16 KiB limit gets Bun's bare 431 and the gateway keeps serving", async () => {
    const heads = [
      `GET /v1/local/default/custom-mock/echo HTTP/1.1\r\nHost: gw\r\nX-Big: ${"a".repeat(100_000)}\r\nConnection: close\r\n\r\n`,
      `GET /v1/local/default/custom-mock/${"a".repeat(100_000)} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`,
      `GET /v1/local/default/custom-mock/echo?${"q=1&".repeat(20_000)} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`,
      `GET /v1/local/default/custom-mock/echo HTTP/1.1\r\nHost: gw\r\n${Array.from({ length: 2000 }, (_, i) => `X-H${i}: v`).join("\r\n")}\r\nConnection: close\r\n\r\n`,
      `GET /health HTTP/1.1\r\nHost: gw\r\nCookie: ${"c=1; ".repeat(10_000)}\r\nConnection: close\r\n\r\n`,
    ];
    const before = t.upstream.requests.length;

    const answers = await Promise.all(heads.map((head) => rawHttp(t.gw.url, head)));

    expect(answers.map((answer) => answer.statusLine)).toEqual(heads.map(() => "HTTP/1.1 431 Request Header Fields Too Large"));
    expect(t.upstream.requests.length).toBe(before);
    await expectAlive(t.gw.url);
  });

  test("a cf-aig header just under that limit is read and refused with its own code, not a crash", async () => {
    const answers = [
      await post(`${t.gw.base()}/custom-mock/echo`, "{}", { "cf-aig-metadata": JSON.stringify({ user: "u".repeat(15_000) }) }),
      // A body of its own: an identical earlier one would be a cache hit, answered before the retry option is read.
      await post(`${t.gw.base()}/custom-mock/echo`, JSON.stringify({ unique: crypto.randomUUID() }), { "cf-aig-max-attempts": "9".repeat(15_000) }),
      await post(`${t.gw.base()}/custom-mock/echo`, "{}", { "cf-aig-event-id": "e".repeat(15_000) }),
    ];

    expectClear(answers[0], "15 KB metadata", [[400, ErrorCode.InvalidMetadata]]);
    expectClear(answers[1], "15 KB max attempts", [[400, ErrorCode.InvalidHeader]], { success: false });
    expect(answers[2].status).toBe(200);
    await expectAlive(t.gw.url);
  });
});
