import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { ErrorCode } from "../src/pipeline/errors.ts";
import { ULID, expectGatewayError } from "./support/gateway-error.ts";
import { MOCK_CREATED, MOCK_REPLY, expectedUsage } from "./support/mock-upstream.ts";
import { gatewayWithMock } from "./support/with-mock.ts";

const chat = { model: "gpt-4o-mini", messages: [{ role: "user", content: "say hello to me" }] };
const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

/** The chat completion the mock answers for `chat`, as the client must receive it. */
const completion = (id: unknown = expect.stringMatching(/^chatcmpl-mock-\d+$/)) => ({
  id,
  object: "chat.completion",
  created: MOCK_CREATED,
  model: "gpt-4o-mini",
  system_fingerprint: null,
  choices: [{ index: 0, message: { role: "assistant", content: MOCK_REPLY, refusal: null }, logprobs: null, finish_reason: "stop" }],
  usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12, prompt_tokens_details: { cached_tokens: 0 } },
});

/** A port nothing listens on: bound once by the OS, then released. */
function closedPort(): number {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

/** Sends one HTTP/1.1 request byte for byte (headers `fetch` would not let through) and returns the status line. */
function rawRequest(url: string, head: string[], body: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const request = [...head, `Host: ${hostname}:${port}`, `Content-Length: ${Buffer.byteLength(body)}`, "", body].join("\r\n");
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let received = "";
    socket.on("data", (data) => {
      received += data;
      if (received.includes("\r\n\r\n")) {
        socket.destroy();
        resolve(received.slice(0, received.indexOf("\r\n")));
      }
    });
    socket.on("error", reject);
  });
}

describe("the path selects the provider and the upstream URL", () => {
  test("openai chat/completions goes to {base}/chat/completions with the query string as sent", async () => {
    await using t = await gatewayWithMock();

    const res = await fetch(`${t.gw.base()}/openai/chat/completions?api-version=2024-10-21&note=a%20b&flag`, post(chat));

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(completion());
    expect(t.upstream.requests.map(({ method, path, search }) => ({ method, path, search }))).toEqual([
      { method: "POST", path: "/v1/chat/completions", search: "?api-version=2024-10-21&note=a%20b&flag" },
    ]);
  });

  test("workers-ai @cf/… models run under the account named in the path", async () => {
    await using t = await gatewayWithMock();
    const body = { messages: [{ role: "user", content: "one two" }] };

    const res = await fetch(`${t.gw.url}/v1/acct-42/default/workers-ai/@cf/meta/llama-3.1-8b-instruct`, post(body));

    const usage = { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 };
    expect(await res.json()).toEqual({ result: { response: MOCK_REPLY, usage }, success: true, errors: [], messages: [] });
    expect(t.upstream.lastRequest()).toMatchObject({ path: "/client/v4/accounts/acct-42/ai/run/@cf/meta/llama-3.1-8b-instruct", json: body });
    expect(await t.log(res)).toMatchObject({ provider: "workers-ai", model: "@cf/meta/llama-3.1-8b-instruct", tokens_in: 5, tokens_out: 5 });
  });

  test("custom-{slug} from the config maps onto its baseUrl, any method, query kept", async () => {
    await using t = await gatewayWithMock((upstream) => ({ providers: { "custom-echo": { baseUrl: `${upstream}/custom/base/v1` } } }));

    const answers = [];
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
      const body = method === "GET" ? undefined : `{"method":"${method}"}`;
      const res = await fetch(`${t.gw.base()}/custom-echo/things/42?id=7&x=%2F`, { method, body });
      answers.push({ status: res.status, body: await res.json() });
    }

    expect(answers).toEqual(
      ["GET", "POST", "PUT", "PATCH", "DELETE"].map((method) => ({
        status: 200,
        body: { method, path: "/custom/base/v1/things/42", search: "?id=7&x=%2F", body: method === "GET" ? "" : `{"method":"${method}"}` },
      })),
    );
  });

  test("an unknown provider is refused with 400/2101 listing the known slugs", async () => {
    await using t = await gatewayWithMock();

    const res = await fetch(`${t.gw.base()}/open-ai/chat/completions`, post(chat));

    const message = await expectGatewayError(res, 400, ErrorCode.UnknownProvider);
    expect(message).toContain("open-ai");
    for (const slug of ["openai", "anthropic", "workers-ai", "groq", "custom-mock"]) expect(message).toContain(slug);
    expect(t.upstream.requests).toEqual([]);
  });

  test("an unknown gateway is refused with 404/2001; a configured one serves", async () => {
    await using t = await gatewayWithMock({ gateways: { prod: {} } });

    const unknown = await fetch(`${t.gw.base("staging")}/openai/chat/completions`, post(chat));
    const prod = await fetch(`${t.gw.base("prod")}/openai/chat/completions`, post(chat));

    expect(await expectGatewayError(unknown, 404, ErrorCode.UnknownGateway)).toContain("staging");
    expect(prod.status).toBe(200);
    expect(t.upstream.requests).toHaveLength(1);
  });

  test("with accountId configured, another account in the path is refused with 404", async () => {
    await using t = await gatewayWithMock({ accountId: "acme" });

    const other = await fetch(`${t.gw.url}/v1/other/default/openai/chat/completions`, post(chat));
    const mine = await fetch(`${t.gw.url}/v1/acme/default/openai/chat/completions`, post(chat));

    expect(await expectGatewayError(other, 404, ErrorCode.UnknownAccount)).toContain("other");
    expect(mine.status).toBe(200);
    expect(t.upstream.requests).toHaveLength(1);
  });

  test("malformed provider paths get a 400 envelope that shows the expected shape", async () => {
    await using t = await gatewayWithMock();

    // A POST to the gateway itself is a Universal request: a chat body there lacks the step's provider.
    for (const path of ["/v1/x", "/v1/x/default", "/v1/x/default/"]) {
      const res = await fetch(`${t.gw.url}${path}`, post(chat));
      expect(await expectGatewayError(res, 400, ErrorCode.BadRequest)).toContain("/{provider}/");
    }
    expect(t.upstream.requests).toEqual([]);
  });

  test("a path outside every route is a 404 envelope", async () => {
    await using t = await gatewayWithMock();

    // GET / is the dashboard (test/dashboard.test.ts).
    for (const [method, path] of [["GET", "/index.html"], ["GET", "/nope"], ["POST", "/v2/local/default/openai/chat/completions"]]) {
      const res = await fetch(`${t.gw.url}${path}`, { method, body: method === "POST" ? "{}" : undefined });
      expect(await expectGatewayError(res, 404, ErrorCode.NotFound)).toContain(path);
    }
    expect(t.upstream.requests).toEqual([]);
  });
});

describe("the request crosses the gateway unchanged", () => {
  test("method, body bytes and headers reach the provider; cf-aig-* headers do not", async () => {
    await using t = await gatewayWithMock();
    const body = `{ "model": "gpt-4o-mini",\n  "messages": [{"role":"user","content":"héllo ✓ — 日本"}] }\n`;

    const res = await fetch(
      `${t.gw.base()}/openai/chat/completions`,
      post(body, {
        "user-agent": "my-agent/1.0",
        accept: "application/json",
        "openai-organization": "org-1",
        "x-custom": "keep me",
        "cf-aig-event-id": "evt-123",
        "cf-aig-metadata": JSON.stringify({ user: "ada" }),
        "cf-aig-skip-cache": "true",
        "cf-aig-cache-ttl": "600",
        "cf-aig-custom-cost": JSON.stringify({ per_token_in: 0.000001, per_token_out: 0.000002 }),
        "cf-aig-authorization": "Bearer gateway-token-not-for-the-provider",
        "cf-aig-collect-log-payload": "true",
        "cf-aig-some-future-option": "x",
      }),
    );

    expect(res.status).toBe(200);
    const received = t.upstream.lastRequest()!;
    expect(received.method).toBe("POST");
    expect(received.body).toBe(body);
    expect(received.headers).toMatchObject({
      authorization: "Bearer sk-client",
      "content-type": "application/json",
      "user-agent": "my-agent/1.0",
      accept: "application/json",
      "openai-organization": "org-1",
      "x-custom": "keep me",
      host: new URL(t.upstream.url).host,
      "content-length": String(Buffer.byteLength(body)),
    });
    expect(Object.keys(received.headers).filter((name) => name.startsWith("cf-aig-"))).toEqual([]);
  });

  test("hop-by-hop headers stay at the gateway", async () => {
    await using t = await gatewayWithMock();
    const body = JSON.stringify(chat);

    const status = await rawRequest(
      `${t.gw.base()}`,
      [
        "POST /v1/local/default/openai/chat/completions HTTP/1.1",
        "Content-Type: application/json",
        "Authorization: Bearer sk-client",
        "Keep-Alive: timeout=5",
        "TE: trailers",
        "Trailer: x-checksum",
        "Proxy-Authorization: Basic cHJveHk6c2VjcmV0",
        "Proxy-Connection: keep-alive",
        "X-Kept: yes",
      ],
      body,
    );

    expect(status).toBe("HTTP/1.1 200 OK");
    const headers = t.upstream.lastRequest()!.headers;
    expect(headers["x-kept"]).toBe("yes");
    expect(Object.keys(headers).filter((name) => ["keep-alive", "te", "trailer", "proxy-authorization", "proxy-connection"].includes(name))).toEqual([]);
  });

  test("headers the client's Connection header names are hop-by-hop too (RFC 9110 §7.6.1)", async () => {
    await using t = await gatewayWithMock();

    const status = await rawRequest(
      `${t.gw.base()}`,
      [
        "POST /v1/local/default/openai/chat/completions HTTP/1.1",
        "Content-Type: application/json",
        "Connection: keep-alive, X-Hop-Secret",
        "X-Hop-Secret: only-for-the-gateway",
        "X-Kept: yes",
      ],
      JSON.stringify(chat),
    );

    expect(status).toBe("HTTP/1.1 200 OK");
    const headers = t.upstream.lastRequest()!.headers;
    expect(headers["x-kept"]).toBe("yes");
    expect(headers["x-hop-secret"]).toBeUndefined();
  });
});

describe("the provider's answer comes back untouched, with the gateway's ids", () => {
  test("status, provider headers and body pass through; cf-aig-log-id, cf-aig-event-id and cf-aig-step are added", async () => {
    await using t = await gatewayWithMock();
    const body = { id: "chatcmpl-fixed", object: "chat.completion", choices: [], usage: { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 } };
    t.upstream.failNext({ status: 201, body, headers: { "x-request-id": "req_abc", "openai-processing-ms": "12", "x-ratelimit-remaining-requests": "99" } });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post(chat));

    expect(res.status).toBe(201);
    expect(await res.text()).toBe(JSON.stringify(body));
    const logId = res.headers.get("cf-aig-log-id")!;
    expect(logId).toMatch(ULID);
    expect({
      "content-type": res.headers.get("content-type"),
      "x-request-id": res.headers.get("x-request-id"),
      "openai-processing-ms": res.headers.get("openai-processing-ms"),
      "x-ratelimit-remaining-requests": res.headers.get("x-ratelimit-remaining-requests"),
      "cf-aig-event-id": res.headers.get("cf-aig-event-id"),
      "cf-aig-step": res.headers.get("cf-aig-step"),
    }).toEqual({
      "content-type": "application/json;charset=utf-8",
      "x-request-id": "req_abc",
      "openai-processing-ms": "12",
      "x-ratelimit-remaining-requests": "99",
      "cf-aig-event-id": logId,
      "cf-aig-step": "0",
    });
    expect(await t.log(logId)).toMatchObject({ id: logId, event_id: logId, status_code: 201, success: true });
  });

  test("the client's cf-aig-event-id is echoed and stored", async () => {
    await using t = await gatewayWithMock();

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post(chat, { "cf-aig-event-id": "evt-client-7" }));

    expect(res.headers.get("cf-aig-event-id")).toBe("evt-client-7");
    expect(res.headers.get("cf-aig-log-id")).toMatch(ULID);
    expect(await t.log(res)).toMatchObject({ event_id: "evt-client-7" });
  });

  test("a provider 429 comes back as the provider sent it, not as a gateway envelope", async () => {
    await using t = await gatewayWithMock();
    const body = { error: { message: "Rate limit reached for gpt-4o-mini", type: "requests", param: null, code: "rate_limit_exceeded" } };
    t.upstream.failNext({ status: 429, body, headers: { "retry-after": "7" } });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post(chat));

    expect({ status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.text() }).toEqual({
      status: 429,
      retryAfter: "7",
      body: JSON.stringify(body),
    });
    expect(res.headers.get("cf-aig-log-id")).toMatch(ULID);
    expect(await t.log(res)).toMatchObject({ status_code: 429, success: false, error_code: null });
  });

  test("a provider 500 error body passes through unchanged (Anthropic shape too)", async () => {
    await using t = await gatewayWithMock();

    const openai = await fetch(`${t.gw.base()}/openai/chat/completions`, post(chat, { "x-mock-status": "500" }));
    const anthropic = await fetch(
      `${t.gw.base()}/anthropic/v1/messages`,
      post({ model: "claude-sonnet-4-5", max_tokens: 10, messages: [] }, { "x-mock-status": "529", "anthropic-version": "2023-06-01" }),
    );

    expect([
      { status: openai.status, body: await openai.json() },
      { status: anthropic.status, body: await anthropic.json() },
    ]).toEqual([
      { status: 500, body: { error: { message: "mock: scripted 500", type: "server_error", param: null, code: null } } },
      { status: 529, body: { type: "error", error: { type: "overloaded_error", message: "mock: scripted 529" } } },
    ]);
    expect(openai.headers.get("cf-aig-log-id")).toMatch(ULID);
    expect(anthropic.headers.get("cf-aig-log-id")).toMatch(ULID);
  });
});

describe("request bodies over server.maxBodyBytes", () => {
  const limit = { server: { maxBodyBytes: 1024 } };

  test("a declared Content-Length over the limit is refused with 413/2103 and nothing goes upstream", async () => {
    await using t = await gatewayWithMock(limit);

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post("x".repeat(2048)));

    expect(await expectGatewayError(res, 413, ErrorCode.BodyTooLarge)).toContain("1024");
    expect(t.upstream.requests).toEqual([]);
  });

  test("a chunked body without Content-Length is counted and refused the same way", async () => {
    await using t = await gatewayWithMock(limit);
    let pulls = 0;
    // Bun's fetch sends a stream body with Transfer-Encoding: chunked and no Content-Length.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 4) return controller.close();
        controller.enqueue(new TextEncoder().encode("y".repeat(512)));
      },
    });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, { method: "POST", body, duplex: "half" } as RequestInit);

    await expectGatewayError(res, 413, ErrorCode.BodyTooLarge);
    expect(t.upstream.requests).toEqual([]);
  });

  test("bodies up to the limit pass whole, chunked or not", async () => {
    await using t = await gatewayWithMock(limit);
    const exact = "a".repeat(1024);
    const parts = ["b".repeat(300), "c".repeat(300), "d".repeat(300)];
    const chunked = new ReadableStream<Uint8Array>({
      pull(controller) {
        const part = parts.shift();
        if (part === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(part));
      },
    });

    const first = await fetch(`${t.gw.base()}/custom-mock/upload`, { method: "POST", body: exact });
    const second = await fetch(`${t.gw.base()}/custom-mock/upload`, { method: "POST", body: chunked, duplex: "half" } as RequestInit);

    expect([first.status, second.status]).toEqual([200, 200]);
    expect(t.upstream.requests.map((r) => r.body)).toEqual([exact, "b".repeat(300) + "c".repeat(300) + "d".repeat(300)]);
  });
});

describe("when the provider cannot answer", () => {
  test("an unreachable provider is a 502/2110 naming it but not the host reached, and the request is logged as failed", async () => {
    const port = closedPort();
    await using t = await gatewayWithMock({ providers: { openai: { baseUrl: `http://127.0.0.1:${port}/v1` } } });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post(chat));

    const message = await expectGatewayError(res, 502, ErrorCode.UpstreamUnreachable);
    expect(message).toContain("openai");
    // Naming the host would make the gateway a port scanner for anyone who can send it a request.
    expect(message).not.toContain(`${port}`);
    expect(message).toContain("ECONNREFUSED");
    expect(await t.log(res)).toMatchObject({ provider: "openai", status_code: 502, success: false, error_code: ErrorCode.UpstreamUnreachable });
  });

  test("a connection reset before any answer is a 502/2110", async () => {
    await using t = await gatewayWithMock();

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post(chat, { "x-mock-reset": "1" }));

    await expectGatewayError(res, 502, ErrorCode.UpstreamUnreachable);
    expect(t.upstream.requests).toHaveLength(1);
  });

  test("the gateway's requestTimeout turns a slow first byte into 504/2111", async () => {
    await using t = await gatewayWithMock({ gateways: { default: { requestTimeout: 50 } } });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post(chat, { "x-mock-delay": "500" }));

    expect(await expectGatewayError(res, 504, ErrorCode.UpstreamTimeout)).toContain("50 ms");
    expect(await t.log(res)).toMatchObject({ status_code: 504, success: false, error_code: ErrorCode.UpstreamTimeout });
  });

  test("cf-aig-request-timeout sets the limit per request and wins over the gateway's", async () => {
    await using t = await gatewayWithMock({ gateways: { default: { requestTimeout: 20 } } });

    const short = await fetch(`${t.gw.base()}/openai/chat/completions`, post(chat, { "x-mock-delay": "500", "cf-aig-request-timeout": "30" }));
    const long = await fetch(`${t.gw.base()}/openai/chat/completions`, post(chat, { "x-mock-delay": "60", "cf-aig-request-timeout": "5000" }));

    await expectGatewayError(short, 504, ErrorCode.UpstreamTimeout);
    expect(long.status).toBe(200);
    expect(await long.json()).toEqual(completion());
  });
});

describe("provider keys held by the gateway", () => {
  const held = (upstream: string) => ({
    providers: {
      openai: { baseUrl: `${upstream}/v1`, apiKey: "sk-held-openai" },
      anthropic: { baseUrl: upstream, apiKey: "sk-ant-held" },
    },
    gateways: { team: { providers: { openai: { apiKey: "sk-held-team" } } } },
  });
  const noAuth = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const claude = { model: "claude-sonnet-4-5", max_tokens: 16, messages: [{ role: "user", content: "hi" }] };

  test("are injected as the provider's own auth header only when the client sent none", async () => {
    await using t = await gatewayWithMock(held);

    await fetch(`${t.gw.base()}/openai/chat/completions`, noAuth(chat));
    await fetch(`${t.gw.base()}/openai/chat/completions`, noAuth(chat, { authorization: "Bearer sk-client-own" }));
    await fetch(`${t.gw.base("team")}/openai/chat/completions`, noAuth(chat));
    await fetch(`${t.gw.base()}/anthropic/v1/messages`, noAuth(claude, { "anthropic-version": "2023-06-01" }));
    await fetch(`${t.gw.base()}/anthropic/v1/messages`, noAuth(claude, { "anthropic-version": "2023-06-01", "x-api-key": "sk-ant-client" }));
    await fetch(`${t.gw.base()}/anthropic/v1/messages`, noAuth(claude, { "anthropic-version": "2023-06-01", authorization: "Bearer sk-ant-client-bearer" }));

    const credentials = t.upstream.requests.map((r): Record<string, string | undefined> => ({ authorization: r.headers.authorization, "x-api-key": r.headers["x-api-key"] }));
    expect(credentials).toEqual([
      { authorization: "Bearer sk-held-openai", "x-api-key": undefined },
      { authorization: "Bearer sk-client-own", "x-api-key": undefined },
      { authorization: "Bearer sk-held-team", "x-api-key": undefined },
      { authorization: undefined, "x-api-key": "sk-ant-held" },
      { authorization: undefined, "x-api-key": "sk-ant-client" },
      { authorization: "Bearer sk-ant-client-bearer", "x-api-key": undefined },
    ]);
  });
});

describe("usage of a plain JSON answer", () => {
  test("is read and priced for the log", async () => {
    await using t = await gatewayWithMock();

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post(chat));
    await res.arrayBuffer();

    const usage = expectedUsage(chat);
    const log = await t.log(res);
    expect(log).toMatchObject({ provider: "openai", model: "gpt-4o-mini", path: "chat/completions", method: "POST", tokens_in: usage.promptTokens, tokens_out: usage.completionTokens });
    expect(log!.cost).toBeCloseTo((usage.promptTokens * 0.15 + usage.completionTokens * 0.6) / 1e6, 12);
  });
});
