/**
 * The realtime relay (reference §4b): a WebSocket upgrade of `/v1/{account}/{gateway}/{provider}?…` is
 * relayed to the provider's own WebSocket — frames both ways verbatim, credentials translated, the
 * gateway's token kept back, one log record per session. Both the `ws` package and Bun's own client
 * connect through the real gateway to a real local WebSocket upstream.
 */
import { describe, expect, test } from "bun:test";
import { createRequire } from "node:module";
import type WsWebSocket from "ws";
import { ErrorCode } from "../src/pipeline/errors.ts";
import type { Config } from "../src/sdk.ts";
import type { LogDetail } from "../src/store/types.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { startMockRealtime, type MockRealtime } from "./support/mock-realtime.ts";

// Under Bun, `import "ws"` is Bun's own client again; the package's file is the independent one.
const Ws = createRequire(import.meta.url)("../node_modules/ws/index.js") as typeof WsWebSocket;

type Kind = "ws" | "bun";
type Frame = string | Uint8Array;

interface Client extends AsyncDisposable {
  protocol: string;
  send(frame: Frame): void;
  /** The next frame not yet returned, as received (text as string, binary as bytes). */
  next(): Promise<Frame>;
  close(code?: number, reason?: string): void;
  closed: Promise<{ code: number; reason: string }>;
}

interface ConnectOptions {
  headers?: Record<string, string>;
  protocols?: string[];
}

/** Opens a WebSocket with either client; rejects when the handshake fails. */
async function connect(kind: Kind, url: string, options: ConnectOptions = {}): Promise<Client> {
  const frames: Frame[] = [];
  const waiters: (() => void)[] = [];
  const opened = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<{ code: number; reason: string }>();
  const arrived = (frame: Frame) => {
    frames.push(frame);
    for (const wake of waiters.splice(0)) wake();
  };
  let socket: { send(frame: Frame): void; close(code?: number, reason?: string): void; protocol: string };
  if (kind === "ws") {
    const ws = new Ws(url, options.protocols ?? [], { headers: options.headers });
    ws.on("open", () => opened.resolve());
    ws.on("error", (error) => opened.reject(error));
    ws.on("message", (data: Buffer, binary) => arrived(binary ? new Uint8Array(data) : data.toString()));
    ws.on("close", (code, reason) => {
      closed.resolve({ code, reason: reason.toString() });
      for (const wake of waiters.splice(0)) wake();
    });
    socket = ws;
  } else {
    const ws = new WebSocket(url, { headers: options.headers, protocols: options.protocols });
    ws.binaryType = "arraybuffer";
    ws.addEventListener("open", () => opened.resolve());
    ws.addEventListener("error", () => opened.reject(new Error("the handshake failed")));
    ws.addEventListener("message", (event) => arrived(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer)));
    ws.addEventListener("close", (event) => {
      closed.resolve({ code: event.code, reason: event.reason });
      for (const wake of waiters.splice(0)) wake();
    });
    socket = ws;
  }
  closed.promise.then(({ code }) => opened.reject(new Error(`closed with ${code} before it opened`)));
  await opened.promise;
  let cursor = 0;
  let isClosed = false;
  closed.promise.then(() => (isClosed = true));
  return {
    get protocol() {
      return socket.protocol;
    },
    send: (frame) => socket.send(frame),
    next: () =>
      new Promise<Frame>((resolve, reject) => {
        const check = () => {
          if (cursor < frames.length) return resolve(frames[cursor++]);
          if (isClosed) return reject(new Error("the socket closed before the next frame"));
          waiters.push(check);
        };
        check();
      }),
    close: (code, reason) => socket.close(code, reason),
    closed: closed.promise,
    async [Symbol.asyncDispose]() {
      if (!isClosed) {
        socket.close();
        await closed.promise;
      }
    },
  };
}

/** What the gateway answered instead of switching protocols. */
function refusal(url: string, options: ConnectOptions = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const { promise, resolve, reject } = Promise.withResolvers<{ status: number; body: Record<string, unknown> }>();
  const ws = new Ws(url, options.protocols ?? [], { headers: options.headers });
  ws.on("unexpected-response", (_request, response) => {
    let text = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => (text += chunk));
    response.on("end", () => {
      resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) });
      ws.terminate();
    });
  });
  ws.on("open", () => {
    reject(new Error("the upgrade was accepted"));
    ws.close();
  });
  ws.on("error", () => {});
  return promise;
}

interface Relay extends AsyncDisposable {
  upstream: MockRealtime;
  gw: TestGateway;
  /** `ws://…/v1/local/{gateway}` — append `/{provider}…`. */
  wsBase(gateway?: string): string;
  /** Settles the gateway, then every stored log of `gateway`, oldest first. */
  logs(gateway?: string): Promise<LogDetail[]>;
}

/** A mock realtime provider and the real gateway in front of it (openai, workers-ai, custom-mock point at it). */
async function relay(config: Config | ((upstream: string) => Config) = {}): Promise<Relay> {
  const upstream = await startMockRealtime();
  const given = typeof config === "function" ? config(upstream.url) : config;
  const gw = await startTestGateway({ upstream: upstream.url, config: { plugins: ["logging"], ...given } });
  const store = gw.running.handle.stores.logs;
  return {
    upstream,
    gw,
    wsBase: (gateway) => gw.base(gateway).replace(/^http/, "ws"),
    async logs(gateway = "default") {
      await gw.settle();
      const { rows } = await store.list(gateway, { page: 1, perPage: 100, orderBy: "created_at", direction: "asc", filters: [] });
      return Promise.all(rows.map(async (row) => (await store.get(gateway, row.id))!));
    },
    async [Symbol.asyncDispose]() {
      await gw.stop();
      await upstream.stop();
    },
  };
}

const MODEL = "gpt-4o-realtime-preview-2024-12-17";

describe("frames are relayed both ways, verbatim", () => {
  for (const kind of ["ws", "bun"] as const) {
    test(`text stays text and binary stays binary (${kind} client)`, async () => {
      await using t = await relay();
      const upstreamSession = t.upstream.next();
      await using client = await connect(kind, `${t.wsBase()}/openai?model=${MODEL}`, { headers: { authorization: "Bearer sk-client" } });
      const session = await upstreamSession;
      expect({ path: session.path, search: session.search }).toEqual({ path: "/v1/realtime", search: `?model=${MODEL}` });

      const text = JSON.stringify({ type: "session.update", session: { instructions: "héllo ✓" } });
      const audio = new Uint8Array([0, 1, 2, 127, 128, 254, 255]);
      client.send(text);
      client.send(audio);
      expect(await session.received(2)).toEqual([text, audio]);
      // The mock echoes: the same frames come back, with their types.
      expect(await client.next()).toBe(text);
      expect(await client.next()).toEqual(audio);

      const pushed = new Uint8Array(64 * 1024).map((_, i) => i % 251);
      session.send(pushed);
      session.send('{"type":"response.audio.delta"}');
      expect(await client.next()).toEqual(pushed);
      expect(await client.next()).toBe('{"type":"response.audio.delta"}');
    });
  }

  test("frames sent before the provider's WebSocket opens are delivered first, in order", async () => {
    await using t = await relay();
    const handshake = t.upstream.hold();
    const upstreamSession = t.upstream.next();
    await using client = await connect("ws", `${t.wsBase()}/custom-mock/live`);
    await handshake.arrived;
    for (let i = 0; i < 5; i++) client.send(`frame ${i}`);
    handshake.release();
    const session = await upstreamSession;
    expect(session.path).toBe("/custom/live");
    expect(await session.received(5)).toEqual(["frame 0", "frame 1", "frame 2", "frame 3", "frame 4"]);
  });

  test("a client that sends more than 100 frames before the provider opens is closed with 1008", async () => {
    await using t = await relay();
    const handshake = t.upstream.hold();
    await using client = await connect("ws", `${t.wsBase()}/custom-mock/live`);
    await handshake.arrived;
    for (let i = 0; i <= 100; i++) client.send(`frame ${i}`);
    const closed = await client.closed;
    handshake.release();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toContain("more than 100 frames");
    const [log] = await t.logs();
    expect({ success: log.success, error: log.error_code }).toEqual({ success: false, error: ErrorCode.BadRequest });
  });

  test("a provider that does not open within cf-aig-request-timeout closes the client with 1011, logged as a timeout", async () => {
    await using t = await relay();
    const handshake = t.upstream.hold();
    await using client = await connect("ws", `${t.wsBase()}/openai?model=${MODEL}`, { headers: { "cf-aig-request-timeout": "50" } });
    const closed = await client.closed;
    handshake.release();
    expect(closed.code).toBe(1011);
    expect(closed.reason).toContain("openai did not open its WebSocket within 50 ms");
    const [log] = await t.logs();
    expect({ success: log.success, error: log.error_code }).toEqual({ success: false, error: ErrorCode.UpstreamTimeout });
  });

  test("Workers AI: ?model= becomes the path, the other parameters stay as sent", async () => {
    await using t = await relay();
    const upstreamSession = t.upstream.next();
    const client = await connect("ws", `${t.wsBase()}/workers-ai?model=@cf/deepgram/nova-3&encoding=linear16&sample_rate=16000&interim_results=true`);
    const session = await upstreamSession;
    expect({ path: session.path, search: session.search }).toEqual({
      path: "/client/v4/accounts/local/ai/run/@cf/deepgram/nova-3",
      search: "?encoding=linear16&sample_rate=16000&interim_results=true",
    });
    client.close();
    await client.closed;
    const [log] = await t.logs();
    expect({ provider: log.provider, model: log.model, path: log.path }).toEqual({ provider: "workers-ai", model: "@cf/deepgram/nova-3", path: "@cf/deepgram/nova-3" });
  });
});

describe("credentials", () => {
  test("the client's Authorization and OpenAI-Beta reach the provider; cf-aig-* headers and others do not", async () => {
    await using t = await relay();
    const upstreamSession = t.upstream.next();
    await using _client = await connect("ws", `${t.wsBase()}/openai?model=${MODEL}`, {
      headers: {
        Authorization: "Bearer sk-client",
        "OpenAI-Beta": "realtime=v1",
        "cf-aig-metadata": '{"user":"ada"}',
        "cf-aig-event-id": "evt-1",
        Cookie: "session=abc",
        "X-Other": "nope",
      },
    });
    const { headers } = await upstreamSession;
    expect({ authorization: headers.get("authorization"), beta: headers.get("openai-beta") }).toEqual({ authorization: "Bearer sk-client", beta: "realtime=v1" });
    expect([...headers.keys()].filter((name) => name.startsWith("cf-aig-") || name === "cookie" || name === "x-other")).toEqual([]);
  });

  test("<name>.<value> subprotocols become headers; the gateway's token subprotocol is kept back", async () => {
    await using t = await relay({ plugins: ["auth", "logging"], gateways: { secure: { authentication: true, tokens: ["tok-secret-0123456789"] } } });
    const upstreamSession = t.upstream.next();
    await using client = await connect("bun", `${t.wsBase("secure")}/custom-mock/agent?agent_id=a1`, {
      protocols: ["realtime", "xi-api-key.k-eleven", "cf-aig-authorization.tok-secret-0123456789"],
    });
    expect(client.protocol).toBe("realtime");
    const session = await upstreamSession;
    expect(session.headers.get("xi-api-key")).toBe("k-eleven");
    expect(session.protocols).toEqual(["realtime"]);
    expect(JSON.stringify([...session.headers])).not.toContain("tok-secret-0123456789");
  });

  test("OpenAI's browser subprotocols become its Authorization and OpenAI-Beta headers", async () => {
    await using t = await relay();
    const upstreamSession = t.upstream.next();
    await using _client = await connect("bun", `${t.wsBase()}/openai?model=${MODEL}`, {
      protocols: ["realtime", "openai-insecure-api-key.sk-browser", "openai-beta.realtime-v1"],
    });
    const { headers, protocols } = await upstreamSession;
    expect({ authorization: headers.get("authorization"), beta: headers.get("openai-beta"), protocols }).toEqual({
      authorization: "Bearer sk-browser",
      beta: "realtime=v1",
      protocols: ["realtime"],
    });
  });

  test("the gateway's held key is sent when the client sent none, and the client's own wins", async () => {
    await using t = await relay((upstream) => ({ providers: { openai: { baseUrl: `${upstream}/v1`, apiKey: "sk-held" } } }));
    const first = t.upstream.next();
    await using _anonymous = await connect("ws", `${t.wsBase()}/openai?model=${MODEL}`);
    expect((await first).headers.get("authorization")).toBe("Bearer sk-held");
    const second = t.upstream.next();
    await using _own = await connect("ws", `${t.wsBase()}/openai?model=${MODEL}`, { headers: { authorization: "Bearer sk-own" } });
    expect((await second).headers.get("authorization")).toBe("Bearer sk-own");
  });

  test("a subprotocol that would set a hop-by-hop header is refused before the handshake", async () => {
    await using t = await relay();
    const answer = await refusal(`${t.wsBase()}/custom-mock/x`, { protocols: ["host.evil.example"] });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ name: "AiGatewayError", internalCode: ErrorCode.BadRequest });
    expect(t.upstream.sessions).toHaveLength(0);
  });
});


describe("refusals come before the handshake", () => {
  test("an authenticated gateway refuses the upgrade without a token (401) and accepts the subprotocol token", async () => {
    await using t = await relay({ plugins: ["auth", "logging"], gateways: { secure: { authentication: true, tokens: ["tok-secret-0123456789"] } } });
    const url = `${t.wsBase("secure")}/openai?model=${MODEL}`;
    const answer = await refusal(url, { headers: { authorization: "Bearer sk-client" } });
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ success: false, name: "AiGatewayError", internalCode: ErrorCode.Unauthorized });
    expect(t.upstream.sessions).toHaveLength(0);

    const upstreamSession = t.upstream.next();
    await using _client = await connect("ws", url, { headers: { authorization: "Bearer sk-client" }, protocols: ["cf-aig-authorization.tok-secret-0123456789"] });
    expect((await upstreamSession).headers.get("authorization")).toBe("Bearer sk-client");
  });

  test("a provider without a realtime API is refused with a 400 that lists the ones that relay", async () => {
    await using t = await relay();
    const answer = await refusal(`${t.wsBase()}/anthropic/v1/messages`);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ name: "AiGatewayError", internalCode: ErrorCode.BadRequest });
    expect(answer.body.message).toContain("realtime relays: custom-mock, openai, workers-ai");

    const unknown = await refusal(`${t.wsBase()}/nope`);
    expect({ status: unknown.status, code: unknown.body.internalCode }).toEqual({ status: 400, code: ErrorCode.UnknownProvider });
    expect(t.upstream.sessions).toHaveLength(0);
  });
});

describe("closing", () => {
  test("the provider's close code and reason reach the client (4000), and the session is logged as failed", async () => {
    await using t = await relay();
    await using client = await connect("bun", `${t.wsBase()}/openai?model=${MODEL}`);
    client.send(JSON.stringify({ mock: "close", code: 4000, reason: "session expired" }));
    expect(await client.closed).toEqual({ code: 4000, reason: "session expired" });
    const [log] = await t.logs();
    expect({ success: log.success, status: log.status_code, error: log.error_code }).toEqual({ success: false, status: 101, error: ErrorCode.StreamBroken });
  });

  test("the client's close code and reason reach the provider", async () => {
    await using t = await relay();
    const upstreamSession = t.upstream.next();
    const client = await connect("ws", `${t.wsBase()}/openai?model=${MODEL}`);
    const session = await upstreamSession;
    client.close(4001, "user hung up");
    expect(await session.closed).toEqual({ code: 4001, reason: "user hung up" });
  });

  test("an unreachable provider closes the client with 1011, naming the provider but not the host, and is logged as failed", async () => {
    const closedPort = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const dead = `http://127.0.0.1:${closedPort.port}`;
    await closedPort.stop(true);
    await using t = await relay({ providers: { "custom-down": { baseUrl: dead } } });
    await using client = await connect("ws", `${t.wsBase()}/custom-down/live`);
    const closed = await client.closed;
    expect(closed.code).toBe(1011);
    expect(closed.reason).toContain("custom-down");
    expect(closed.reason).not.toContain("127.0.0.1");
    const [log] = await t.logs();
    expect({ success: log.success, status: log.status_code, error: log.error_code, provider: log.provider }).toEqual({
      success: false,
      status: 101,
      error: ErrorCode.UpstreamUnreachable,
      provider: "custom-down",
    });
    expect(log.error_message).not.toContain("127.0.0.1");
  });

  test("a provider that refuses the handshake closes the client with 1011 and its status, never the URL", async () => {
    await using t = await relay();
    await using client = await connect("bun", `${t.wsBase()}/custom-mock/refuse?key=secret-in-query`);
    const closed = await client.closed;
    expect(closed).toEqual({ code: 1011, reason: "could not open custom-mock's WebSocket (it answered HTTP 401)" });
    const [log] = await t.logs();
    expect({ error: log.error_code, message: log.error_message }).toEqual({
      error: ErrorCode.UpstreamUnreachable,
      message: "Could not open custom-mock's WebSocket (it answered HTTP 401)",
    });
  });

  test("a client that stops reading is closed with 1008 once its send buffer passes maxBufferedBytes", async () => {
    await using t = await relay({ server: { websocket: { maxBufferedBytes: 64 * 1024 } } });
    const upstreamSession = t.upstream.next();
    const ws = new Ws(`${t.wsBase()}/openai?model=${MODEL}`);
    const closed = Promise.withResolvers<number>();
    ws.on("close", (code) => closed.resolve(code));
    await new Promise((resolve) => ws.on("open", resolve));
    ws.pause();
    const session = await upstreamSession;
    const chunk = new Uint8Array(64 * 1024);
    for (let i = 0; i < 400; i++) session.send(chunk);
    // The relay gives up on the client and ends the provider's side first; the paused client hears it last.
    expect((await session.closed).code).toBe(1001);
    ws.resume();
    expect(await closed.promise).toBe(1008);
    const [log] = await t.logs();
    expect({ success: log.success, error: log.error_code, aborted: log.aborted }).toEqual({ success: false, error: ErrorCode.ClientClosed, aborted: true });
  });

  test("a graceful stop past server.drainTimeout ends open sessions with 1001 on both sides", async () => {
    const upstream = await startMockRealtime();
    const gw = await startTestGateway({ upstream: upstream.url, config: { plugins: ["logging"], server: { drainTimeout: 0 } } });
    try {
      const upstreamSession = upstream.next();
      const client = await connect("ws", `${gw.base().replace(/^http/, "ws")}/openai?model=${MODEL}`);
      const session = await upstreamSession;
      await gw.stop();
      expect(await client.closed).toEqual({ code: 1001, reason: "the gateway is stopping" });
      expect((await session.closed).code).toBe(1001);
    } finally {
      await gw.stop();
      await upstream.stop();
    }
  });
});

describe("the session's log", () => {
  test("one record per session, with its duration and the usage of every response.done", async () => {
    await using t = await relay();
    const client = await connect("ws", `${t.wsBase()}/openai?model=${MODEL}`, {
      headers: { authorization: "Bearer sk-client-secret", "openai-beta": "realtime=v1" },
      protocols: ["realtime", "cf-aig-authorization.tok-not-checked"],
    });
    client.send(JSON.stringify({ mock: "usage", input: 120, output: 30 }));
    client.send(JSON.stringify({ mock: "usage", input: 80, output: 12 }));
    expect(JSON.parse((await client.next()) as string).type).toBe("response.done");
    expect(JSON.parse((await client.next()) as string).type).toBe("response.done");
    client.close(1000, "bye");
    await client.closed;

    const logs = await t.logs();
    expect(logs).toHaveLength(1);
    const [log] = logs;
    expect(log).toMatchObject({
      request_type: "websocket",
      provider: "openai",
      model: MODEL,
      path: "realtime",
      method: "GET",
      status_code: 101,
      success: true,
      tokens_in: 200,
      tokens_out: 42,
      error_code: null,
      aborted: false,
    });
    expect(log.duration).toBeGreaterThan(0);
    expect(log.response_size).toBeGreaterThan(0);
    expect(log.attempts).toEqual([]);
    const stored = JSON.stringify(log);
    for (const secret of ["sk-client-secret", "tok-not-checked"]) expect(stored).not.toContain(secret);
  });

  test("cf-aig-collect-log: false keeps no record", async () => {
    await using t = await relay();
    const client = await connect("ws", `${t.wsBase()}/openai?model=${MODEL}`, { headers: { "cf-aig-collect-log": "false" } });
    client.send("ping");
    await client.next();
    client.close();
    await client.closed;
    expect(await t.logs()).toEqual([]);
  });
});
