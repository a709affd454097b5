/**
 * Issue 22, hardening: request smuggling shapes over raw sockets (Content-Length with
 * Transfer-Encoding, duplicate and malformed lengths, obfuscated Transfer-Encoding, bad chunk sizes,
 * bodies the gateway never reads that hide a second request), odd protocol versions, and slow and
 * half-closed clients. None may make the gateway answer twice for one request, pass a hidden request
 * to a provider, hang, or crash it: each shape is refused (by Bun's parser with a bare 4xx/505 and a
 * closed connection, or by the gateway with its envelope) or served exactly once.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { connect } from "node:net";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { answerOf, expectAlive, expectClear } from "../support/hardening-checks.ts";
import { rawSession, type ParsedAnswer } from "../support/hardening-raw.ts";
import { openConnection } from "../support/raw-connection.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";

// Bun's default 5 s is short for cases that overflow the stack or flood a socket on 2 shared cores.
setDefaultTimeout(30_000);

const ECHO = "/v1/local/default/custom-mock/echo";
const SMUGGLED_PATH = "/v1/local/default/custom-mock/smuggled";
const SMUGGLED = `GET ${SMUGGLED_PATH} HTTP/1.1\r\nHost: gw\r\n\r\n`;
const chat = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}';

let t: GatewayWithMock;
beforeAll(async () => {
  t = await gatewayWithMock({
    // A body slower than 1 KiB/s over any 400 ms window is cut: short, so the slow-client cases are quick.
    server: { minBodyRate: 1024, bodyRateWindow: 400 },
    plugins: ["auth", "metadata", "cache", "budget", "rate-limit", "fallback", "logging"],
  });
});
afterAll(() => t[Symbol.asyncDispose]());

/** No request the test hid in a body or a second message ever reached the provider as a request (as a body it may). */
function expectNothingSmuggled(): void {
  expect(t.upstream.requests.filter((request) => request.path.includes("smuggled")).map(({ method, path }) => `${method} ${path}`)).toEqual([]);
}

/** Sends `request` on a fresh connection and returns every answer once the server closed it. */
async function exchange(request: string): Promise<ParsedAnswer[]> {
  await using conn = await rawSession(t.gw.url);
  conn.write(request);
  return await conn.closed;
}

const head = (lines: string[]) => `${lines.join("\r\n")}\r\n\r\n`;

/** Shapes Bun's HTTP parser refuses before any JavaScript runs: one bare answer, then the connection closes. */
const PARSER_REFUSALS: [string, number, string][] = [
  ["Content-Length and Transfer-Encoding", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Content-Length: 6", "Transfer-Encoding: chunked"]) + `0\r\n\r\n${SMUGGLED}`],
  ["Transfer-Encoding then Content-Length", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: chunked", "Content-Length: 3"]) + `8\r\nsmuggled\r\n0\r\n\r\n`],
  ["two different Content-Lengths", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Content-Length: 5", `Content-Length: ${5 + SMUGGLED.length}`]) + `hello${SMUGGLED}`],
  ["a Content-Length list", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Content-Length: 5, 5"]) + "hello"],
  ["Content-Length: +5", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Content-Length: +5"]) + "hello"],
  ["Content-Length: -1", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Content-Length: -1"]) + "hello"],
  ["Content-Length: 0x5", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Content-Length: 0x5"]) + "hello"],
  ["a 23-digit Content-Length", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Content-Length: 99999999999999999999999"]) + "hello"],
  ["Content-Length with a space before the colon", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Content-Length : 5"]) + "hello"],
  ["Transfer-Encoding: xchunked", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: xchunked"]) + "5\r\nhello\r\n0\r\n\r\n"],
  ["Transfer-Encoding: chunked, identity", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: chunked, identity"]) + "5\r\nhello\r\n0\r\n\r\n"],
  ["Transfer-Encoding: identity, chunked", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: identity, chunked"]) + "5\r\nhello\r\n0\r\n\r\n"],
  ["two Transfer-Encoding headers", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: chunked", "Transfer-Encoding: identity"]) + "5\r\nhello\r\n0\r\n\r\n"],
  ["Transfer-Encoding with a space before the colon", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding : chunked"]) + "5\r\nhello\r\n0\r\n\r\n"],
  ["Transfer-Encoding folded onto a second line", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding:", " chunked"]) + "5\r\nhello\r\n0\r\n\r\n"],
  ["a chunk size that is not hex", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: chunked"]) + "zz\r\nhello\r\n0\r\n\r\n"],
  ["a negative chunk size", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: chunked"]) + "-1\r\nhello\r\n0\r\n\r\n"],
  ["a chunk size that overflows 64 bits", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: chunked"]) + "10000000000000005\r\nhello\r\n0\r\n\r\n"],
  ["a chunk longer than its size", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: chunked"]) + `3\r\nhello${SMUGGLED}\r\n0\r\n\r\n`],
  ["a chunk without its CRLF", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: chunked"]) + "5\r\nhelloXX0\r\n\r\n"],
  ["chunks framed by bare LF", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: chunked"]) + "5\nhello\n0\n\n"],
  ["a 70 KB chunk extension", 413, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Transfer-Encoding: chunked"]) + `5;${"a".repeat(70_000)}\r\nhello\r\n0\r\n\r\n`],
  ["a NUL in a header value", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "X-A: a\u0000b", "Content-Length: 5"]) + "hello"],
  ["a bare CR in a header value", 400, head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "X-A: a\rb", "Content-Length: 5"]) + "hello"],
  ["a head split by bare LF", 505, `POST ${ECHO} HTTP/1.1\nHost: gw\nContent-Length: 5\n\nhello`],
  ["HTTP/0.9", 505, `GET ${ECHO}\r\n\r\n`],
  ["HTTP/1.2", 505, head([`GET ${ECHO} HTTP/1.2`, "Host: gw"])],
  ["HTTP/9.9", 505, head([`GET ${ECHO} HTTP/9.9`, "Host: gw"])],
  ["the HTTP/2 preface", 400, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"],
  ["a TLS ClientHello", 400, "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003"],
];

describe("shapes Bun's parser refuses", () => {
  test.each(PARSER_REFUSALS)("%s: one bare %d, the connection closes, nothing reaches the provider", async (_, status, request) => {
    const before = t.upstream.requests.length;

    const answers = await exchange(request);

    expect(answers.map((answer) => answer.status)).toEqual([status]);
    expect(t.upstream.requests.length).toBe(before);
    expectNothingSmuggled();
  });

  test("after all of them the gateway still answers", async () => {
    await expectAlive(t.gw.url);
  });
});

describe("bodies the gateway does not read never become requests", () => {
  // Each first request declares a body holding a whole second request; a follow-up on the same
  // connection then asks for /health. Two answers mean the hidden bytes were skipped as a body.
  const hiding: [string, string][] = [
    ["a GET to a provider", `GET ${ECHO} HTTP/1.1`],
    ["a DELETE to a provider", `DELETE ${ECHO} HTTP/1.1`],
    ["an OPTIONS to a provider", `OPTIONS ${ECHO} HTTP/1.1`],
    ["a GET of /health", "GET /health HTTP/1.1"],
    ["a POST to an unknown route", "POST /nope HTTP/1.1"],
    ["a POST to an unknown gateway", "POST /v1/local/nope/openai/chat/completions HTTP/1.1"],
    ["a POST to an unknown provider", "POST /v1/local/default/nope/chat/completions HTTP/1.1"],
    ["a POST to the admin API without a token", "POST /client/v4/accounts/local/ai-gateway/gateways/default/tokens HTTP/1.1"],
    ["a GET of the dashboard", "GET / HTTP/1.1"],
    ["a TRACE", `TRACE ${ECHO} HTTP/1.1`],
  ];

  test.each(hiding)("%s with a Content-Length body: one answer, then the follow-up's", async (_, requestLine) => {
    await using conn = await rawSession(t.gw.url);

    conn.write(head([requestLine, "Host: gw", `Content-Length: ${SMUGGLED.length}`]) + SMUGGLED);
    // Bun drops a connection that pipelines behind an async handler (see the pipelining case): wait first.
    const [first] = await conn.answers(1);
    conn.write(head(["GET /health HTTP/1.1", "Host: gw", "Connection: close"]));
    const answers = await conn.closed;

    expect(answers.map((answer) => answer.status)).toEqual([first.status, 200]);
    expect(JSON.parse(answers[1].body)).toMatchObject({ status: expect.any(String) });
    expectNothingSmuggled();
  });

  test.each(hiding.slice(4, 8))("%s with a chunked body: one answer, then the follow-up's", async (_, requestLine) => {
    await using conn = await rawSession(t.gw.url);

    conn.write(head([requestLine, "Host: gw", "Transfer-Encoding: chunked"]) + `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`);
    const [first] = await conn.answers(1);
    conn.write(head(["GET /health HTTP/1.1", "Host: gw", "Connection: close"]));
    const answers = await conn.closed;

    expect(answers.map((answer) => answer.status)).toEqual([first.status, 200]);
    expectClear(await answerOf(new Response(first.body, { status: first.status })), "refusal with a chunked body", [
      [404, ErrorCode.NotFound],
      [404, ErrorCode.UnknownGateway],
      [400, ErrorCode.UnknownProvider],
      [401, ErrorCode.AdminUnauthorized],
      [403, ErrorCode.AdminDisabled],
    ], { success: false });
    expectNothingSmuggled();
  });

  test("two identical Content-Length headers reach the gateway, which refuses the body it cannot read with 400/2106", async () => {
    const answers = await exchange(head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Content-Length: 5", "Content-Length: 5", "Connection: close"]) + "hello");

    expect(answers.map((answer) => answer.status)).toEqual([400]);
    expectClear(await answerOf(new Response(answers[0].body, { status: 400 })), "duplicate Content-Length", [[400, ErrorCode.BadRequest]], { success: false });
    expectNothingSmuggled();
  });

  test("Expect: 100-continue and an unknown expectation are served once", async () => {
    const before = t.upstream.requests.length;

    const continued = await exchange(head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Expect: 100-continue", "Content-Length: 5", "Connection: close"]) + "hello");
    const unknown = await exchange(head([`POST ${ECHO} HTTP/1.1`, "Host: gw", "Expect: 999-nope", "Content-Length: 5", "Connection: close"]) + "hello");

    expect([continued, unknown].map((answers) => answers.map((answer) => answer.status))).toEqual([[200], [200]]);
    expect(t.upstream.requests.slice(before).map((request) => request.body)).toEqual(["hello", "hello"]);
  });

  test("pipelined requests are answered in order, or — Bun 1.4.5 behind an async handler — the connection closes with no answer and nothing reaches the provider", async () => {
    const before = t.upstream.requests.length;

    const health = await exchange(head(["GET /health HTTP/1.1", "Host: gw"]) + head(["GET /health HTTP/1.1", "Host: gw", "Connection: close"]));
    const proxied = await exchange(head([`GET ${ECHO}/a HTTP/1.1`, "Host: gw"]) + head([`GET ${ECHO}/b HTTP/1.1`, "Host: gw", "Connection: close"]));

    expect(health.map((answer) => answer.status)).toEqual([200, 200]);
    // Bun aborts the first request and closes the connection when a second arrives before the first's
    // answer (any async fetch handler, gateway or not). Never a desynchronised or doubled answer.
    const paths = t.upstream.requests.slice(before).map((request) => request.path);
    if (proxied.length === 0) expect(paths.length).toBeLessThanOrEqual(1);
    else expect({ answers: proxied.map((a) => [a.status, JSON.parse(a.body).path]), paths }).toEqual({ answers: [[200, "/custom/echo/a"], [200, "/custom/echo/b"]], paths: ["/custom/echo/a", "/custom/echo/b"] });
    await expectAlive(t.gw.url);
  });

  test("an h2c upgrade request is served as HTTP/1.1, never switched", async () => {
    await using conn = await rawSession(t.gw.url);

    conn.write(head([`GET ${ECHO} HTTP/1.1`, "Host: gw", "Upgrade: h2c", "Connection: Upgrade, HTTP2-Settings", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"]));
    const [answer] = await conn.answers(1);

    expect({ status: answer.status, upgraded: "upgrade" in answer.headers }).toEqual({ status: 200, upgraded: false });
  });
});

describe("slow and half-closed clients", () => {
  test("30 connections that never finish their head hold nothing up: other requests are served meanwhile", async () => {
    const stalled = await Promise.all(Array.from({ length: 30 }, () => openConnection(t.gw.url)));
    for (const conn of stalled) conn.write(`POST ${ECHO} HTTP/1.1\r\nHost: gw\r\nContent-Le`);

    const served = await Promise.all(Array.from({ length: 10 }, () => fetch(`${t.gw.url}${ECHO}`, { method: "POST", body: "{}" }).then((r) => r.status)));

    expect(served).toEqual(Array.from({ length: 10 }, () => 200));
    await expectAlive(t.gw.url);
    for (const conn of stalled) conn.destroy();
  });

  test.each([
    ["the provider route", ECHO],
    ["Universal", "/v1/local/default"],
    ["compat", "/v1/local/default/compat/chat/completions"],
  ])("a body that trickles in on %s is cut with 408/2108 and nothing is sent", async (_, path) => {
    const before = t.upstream.requests.length;
    await using conn = await openConnection(t.gw.url);

    conn.write(`POST ${path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[`);
    conn.writeEvery(100, " ");
    const answer = await conn.answer;

    expectClear(await answerOf(answer.response()), `slow body on ${path}`, [[408, ErrorCode.BodyTooSlow]], { success: false });
    expect(t.upstream.requests.length).toBe(before);
  });

  test.each([
    ["after a whole request", `POST /v1/local/default/openai/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: ${chat.length}\r\nx-mock-delay: 50\r\n\r\n${chat}`],
    ["in the middle of the body", `POST /v1/local/default/openai/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 400\r\n\r\n${chat}`],
    ["in the middle of a Universal body", `POST /v1/local/default HTTP/1.1\r\nHost: gw\r\nContent-Length: 400\r\n\r\n[{"provider":"openai"`],
    ["in the middle of a compat body", `POST /v1/local/default/compat/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 400\r\n\r\n{"model":`],
    ["in the middle of the head", `POST /v1/local/default/openai/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Len`],
  ])("a client that half-closes %s gets its connection closed promptly; any record says aborted (2112), never success or a 5xx", async (_, request) => {
    const logsBefore = (await t.logs()).length;
    await using conn = await rawSession(t.gw.url);

    conn.write(request);
    conn.end();
    const answers = await conn.closed;

    // Bun ends the request when the client's side closes; whatever was answered is a clear answer.
    for (const answer of answers) expect(answer.status).toBeLessThan(500);
    const records = (await t.logs()).slice(logsBefore);
    expect(records.filter((log) => !(log.aborted && log.error_code === ErrorCode.ClientClosed && !log.success))).toEqual([]);
    await expectAlive(t.gw.url);
  });

  test("a client that never reads a large answer holds up no one else; leaving ends its request", async () => {
    const big = JSON.stringify({ filler: "x".repeat(900_000) });
    const { hostname, port } = new URL(t.gw.url);
    const socket = connect(Number(port), hostname);
    socket.on("error", () => {});
    socket.pause();
    const expected = t.upstream.requests.length + 1;
    socket.write(`POST ${ECHO} HTTP/1.1\r\nHost: gw\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
    await t.upstream.waitForRequests(expected);

    const others = await Promise.all(Array.from({ length: 5 }, () => fetch(`${t.gw.url}${ECHO}`, { method: "POST", body: "{}" }).then((r) => r.status)));
    socket.destroy();

    expect(others).toEqual([200, 200, 200, 200, 200]);
    await t.gw.settle();
    await expectAlive(t.gw.url);
  });
});
