import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { BUN, MAIN, startServe, tempFolder } from "../support/cli.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { startMockUpstream } from "../support/mock-upstream.ts";
import { rawHttp } from "../support/raw-http.ts";
import { gatewayWithMock } from "../support/with-mock.ts";

const ALLOW = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS";
const MODELS = "/v1/local/default/openai/models";

/** The request line, then header lines; ends the head and asks the server to close after answering. */
const raw = (requestLine: string, ...headers: string[]) => [requestLine, ...headers, "Connection: close", "", ""].join("\r\n");

/** Upstream requests as method + path + query, the part these tests care about. */
const received = (t: { upstream: { requests: { method: string; path: string; search: string }[] } }) =>
  t.upstream.requests.map(({ method, path, search }) => `${method} ${path}${search}`);

async function stillServing(url: string): Promise<void> {
  const health = await fetch(`${url}/health`);
  await health.arrayBuffer();
  expect(health.status).toBe(200);
}

describe("the path is read from the request-target, whatever the Host header says", () => {
  test("HTTP/1.0 without Host reaches the provider at the right path", async () => {
    await using t = await gatewayWithMock();

    const answer = await rawHttp(t.gw.url, `GET ${MODELS}?limit=2 HTTP/1.0\r\n\r\n`);

    expect(answer.status).toBe(200);
    expect(received(t)).toEqual(["GET /v1/models?limit=2"]);
  });

  // Bun makes request.url relative for the first four and keeps the last four as sent (`http://[bad/…`).
  test.each(["a/b", "a b", "u:p@h", "é", "[bad", "h:abc", "%2F", "bad]"])("Host: %s reaches the provider at the right path", async (host) => {
    await using t = await gatewayWithMock();

    const answer = await rawHttp(t.gw.url, raw(`GET ${MODELS}?limit=2 HTTP/1.1`, `Host: ${host}`));

    expect(answer.status).toBe(200);
    expect(received(t)).toEqual(["GET /v1/models?limit=2"]);
    await stillServing(t.gw.url);
  });

  test("an absolute-form target goes to the configured provider, never to the host it names", async () => {
    await using t = await gatewayWithMock();
    const body = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });

    const answer = await rawHttp(
      t.gw.url,
      [`POST http://evil.example/v1/local/default/openai/chat/completions?x=1 HTTP/1.1`, "Host: gw", "Content-Type: application/json", `Content-Length: ${body.length}`, "Connection: close", "", body].join("\r\n"),
    );

    expect(answer.status).toBe(200);
    expect(received(t)).toEqual(["POST /v1/chat/completions?x=1"]);
  });

  test.each([
    ["HTTP/1.0 without Host", `GET /nope?key=sk-query HTTP/1.0\r\n\r\n`],
    ["Host: [bad", raw("GET /nope?key=sk-query HTTP/1.1", "Host: [bad")],
    ["Host: h:abc", raw("GET /nope HTTP/1.1", "Host: h:abc")],
    ["an absolute-form target with an unknown path", raw("GET http://evil.example/nope?key=sk-query HTTP/1.1", "Host: gw")],
  ])("an unknown route with %s is the 404 envelope", async (_, request) => {
    await using t = await gatewayWithMock();

    const answer = await rawHttp(t.gw.url, request);

    expect(await expectGatewayError(answer.response(), 404, ErrorCode.NotFound)).not.toContain("sk-query");
    expect(received(t)).toEqual([]);
    await stillServing(t.gw.url);
  });

  test("an absolute-form target without a path is the gateway's own `/` (the dashboard), never another host", async () => {
    await using t = await gatewayWithMock();

    const answer = await rawHttp(t.gw.url, raw("GET http://evil.example HTTP/1.1", "Host: gw"));

    expect(answer.statusLine).toStartWith("HTTP/1.1 200");
    expect(answer.headers["content-type"]).toContain("text/html");
    expect(received(t)).toEqual([]);
  });

  test("dot segments that climb out of /v1/ are a 404, not a shifted path", async () => {
    await using t = await gatewayWithMock();

    // Bun routes on the raw path (`/v1/*` matches) but resolves the dots in request.url: `/local/default/…`.
    const encoded = await rawHttp(t.gw.url, raw(`GET /v1/%2e%2e${MODELS.slice(3)} HTTP/1.1`, "Host: gw"));
    const plain = await rawHttp(t.gw.url, raw(`GET /v1/a/../..${MODELS.slice(3)} HTTP/1.1`, "Host: gw"));

    await expectGatewayError(encoded.response(), 404, ErrorCode.NotFound);
    await expectGatewayError(plain.response(), 404, ErrorCode.NotFound);
    expect(received(t)).toEqual([]);
  });

  test("a #fragment in the target is refused, not silently dropped", async () => {
    await using t = await gatewayWithMock();

    const inPath = await rawHttp(t.gw.url, raw(`GET ${MODELS}#frag HTTP/1.1`, "Host: gw"));
    const inQuery = await rawHttp(t.gw.url, raw(`GET ${MODELS}?limit=2#frag HTTP/1.1`, "Host: gw"));

    await expectGatewayError(inPath.response(), 400, ErrorCode.BadRequest);
    await expectGatewayError(inQuery.response(), 400, ErrorCode.BadRequest);
    expect(received(t)).toEqual([]);
  });
});

describe("methods no provider API uses are 405 with Allow", () => {
  test.each([
    ["TRACE", `TRACE ${MODELS} HTTP/1.1`],
    ["CONNECT to a /v1 path", `CONNECT ${MODELS} HTTP/1.1`],
    ["CONNECT host:443", "CONNECT api.openai.com:443 HTTP/1.1"],
    ["PROPFIND", `PROPFIND ${MODELS} HTTP/1.1`],
    ["QUERY", `QUERY ${MODELS} HTTP/1.1`],
    ["TRACE outside /v1", "TRACE /health HTTP/1.1"],
  ])("%s", async (_, requestLine) => {
    await using t = await gatewayWithMock();

    const answer = await rawHttp(t.gw.url, raw(requestLine, "Host: gw"));

    expect(answer.headers.allow).toBe(ALLOW);
    await expectGatewayError(answer.response(), 405, ErrorCode.MethodNotAllowed);
    expect(received(t)).toEqual([]);
    await stillServing(t.gw.url);
  });

  test("GET, POST, PUT, PATCH, DELETE, HEAD and OPTIONS still reach the provider", async () => {
    await using t = await gatewayWithMock();
    const methods = ALLOW.split(", ");

    const statuses = [];
    for (const method of methods) statuses.push((await fetch(`${t.gw.base()}/custom-mock/echo`, { method })).status);

    expect(statuses).toEqual(methods.map(() => 200));
    expect(received(t)).toEqual(methods.map((method) => `${method} /custom/echo`));
  });

  // No JavaScript runs for these, so no envelope is possible: Bun's HTTP parser refuses them itself.
  test("Bun refuses `*`, a target without a leading slash and unknown methods before any handler; the gateway keeps serving", async () => {
    await using t = await gatewayWithMock();

    const answers = await Promise.all(
      ["OPTIONS * HTTP/1.1", "GET v1/local/default/openai/models HTTP/1.1", `FOO ${MODELS} HTTP/1.1`, `get ${MODELS} HTTP/1.1`].map((line) => rawHttp(t.gw.url, raw(line, "Host: gw"))),
    );

    expect(answers.map(({ statusLine, body }) => ({ statusLine, body }))).toEqual([
      { statusLine: "HTTP/1.1 400 Bad Request", body: "" },
      { statusLine: "HTTP/1.1 400 Bad Request", body: "" },
      { statusLine: "", body: "" },
      { statusLine: "", body: "" },
    ]);
    expect(received(t)).toEqual([]);
    await stillServing(t.gw.url);
  });
});

describe("a malformed percent-encoding anywhere in the path is a 400", () => {
  test.each([
    ["account", "/v1/lo%ZZcal/default/openai/models"],
    ["gateway", "/v1/local/def%ZZ/openai/models"],
    ["provider", "/v1/local/default/open%E0%A4%A/models"],
    ["endpoint", "/v1/local/default/openai/chat%ZZcompletions"],
    ["endpoint, a truncated UTF-8 sequence", "/v1/local/default/openai/chat/%E0%A4%A"],
    ["endpoint, a lone %", "/v1/local/default/openai/chat/completions%"],
  ])("in the %s", async (_, path) => {
    await using t = await gatewayWithMock();

    const answer = await fetch(`${t.gw.url}${path}`);

    await expectGatewayError(answer, 400, ErrorCode.BadRequest);
    expect(received(t)).toEqual([]);
  });

  test("a well-formed endpoint is passed on byte for byte, escapes and colons included", async () => {
    await using t = await gatewayWithMock();

    const answer = await fetch(`${t.gw.base()}/custom-mock/models/x:generateContent/a%20b/c@d%40`, { method: "POST", body: "{}" });

    expect(answer.status).toBe(200);
    expect(received(t)).toEqual(["POST /custom/models/x:generateContent/a%20b/c@d%40"]);
  });
});

describe("stderr stays clean", () => {
  test("odd request shapes print no stack, no query string and no header value", async () => {
    await using upstream = await startMockUpstream();
    using dir = tempFolder({
      "gateway.config.ts": `export default { storage: { sqlite: "./data/gateway.db" }, providers: { openai: { baseUrl: "${upstream.url}/v1" } }, plugins: ["logging"] };\n`,
    });
    await using server = await startServe([BUN, MAIN, "serve", "--config", join(dir.path, "gateway.config.ts"), "--port", "0"], { cwd: dir.path });
    const secret = "X-Api-Key: sk-header-secret";
    const shapes = [
      `GET /nope?key=sk-query-secret HTTP/1.0\r\n${secret}\r\n\r\n`,
      `GET ${MODELS}?key=sk-query-secret HTTP/1.0\r\n${secret}\r\n\r\n`,
      raw("GET /nope?key=sk-query-secret HTTP/1.1", "Host: [bad", secret),
      raw("GET /client/v4/nope?key=sk-query-secret HTTP/1.1", "Host: a/b", secret),
      raw("CONNECT api.openai.com:443 HTTP/1.1", "Host: api.openai.com:443", secret),
      raw(`TRACE ${MODELS}?key=sk-query-secret HTTP/1.1`, "Host: gw", secret),
      raw(`GET /v1/local/default/openai/chat%ZZ?key=sk-query-secret HTTP/1.1`, "Host: gw", secret),
      raw("OPTIONS * HTTP/1.1", "Host: gw", secret),
      raw(`FOO ${MODELS}?key=sk-query-secret HTTP/1.1`, "Host: gw", secret),
    ];

    const statuses = [];
    for (const shape of shapes) statuses.push((await rawHttp(server.url, shape)).status);
    await stillServing(server.url);
    const code = await server.terminate();

    expect({ code, statuses }).toEqual({ code: 0, statuses: [404, 200, 404, 404, 405, 405, 400, 400, 0] });
    const { stderr } = server.output();
    expect(stderr).not.toContain("sk-query-secret");
    expect(stderr).not.toContain("sk-header-secret");
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).not.toContain("Invalid URL");
  });
});
