/**
 * The Universal API over WebSocket (reference §4a): `universal.create` frames in, `universal.*`
 * frames out, with the same policy (auth, limits, cache, logs) on every message as over HTTP.
 * Each behaviour runs with the `ws` package and with Bun's own global `WebSocket`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { Socket } from "node:net";
import { ErrorCode } from "../src/pipeline/errors.ts";
import type { BuiltInPluginName } from "../src/sdk.ts";
import type { TokenStore } from "../src/store/tokens.ts";
import { envelopeOf, ULID } from "./support/gateway-error.ts";
import { expectedUsage, MOCK_REPLY } from "./support/mock-upstream.ts";
import { gatewayWithMock, type GatewayWithMock } from "./support/with-mock.ts";
import { CLIENT_KINDS, openSocket, refusedUpgrade, wsUrl, type ClientKind, type Frame, type FrameSocket } from "./support/ws-client.ts";

const ALL_PLUGINS: BuiltInPluginName[] = ["auth", "metadata", "cache", "rate-limit", "fallback", "logging"];
const MODEL = "@cf/meta/llama-3.1-8b-instruct";
/** The mock's content types (a provider's own, passed on as `metadata.contentType`). */
const JSON_TYPE = "application/json;charset=utf-8";
const SSE_TYPE = "text/event-stream; charset=utf-8";

/**
 * The client frame of reference §4a, verbatim but for the elided provider token: the reference
 * writes `Bearer …`, and `…` is not a valid HTTP header value (see the test that sends it as is).
 */
const REFERENCE_FRAME = `{"type":"universal.create","request":{"eventId":"my-request","provider":"workers-ai","endpoint":"@cf/meta/llama-3.1-8b-instruct","headers":{"Authorization":"Bearer …","Content-Type":"application/json"},"query":{"prompt":"tell me a joke"}}}`;
const WORKERS_AI_TOKEN = "WORKERS_AI_TOKEN";
const referenceFrame = (query?: Record<string, unknown>) => {
  const frame = JSON.parse(REFERENCE_FRAME.replace("Bearer …", `Bearer ${WORKERS_AI_TOKEN}`));
  if (query) frame.request.query = query;
  return JSON.stringify(frame);
};

/** A Workers AI step, as the reference's, under another eventId. */
const workersStep = (eventId: string, options: { stream?: boolean; headers?: Record<string, string>; prompt?: string } = {}) => ({
  eventId,
  provider: "workers-ai",
  endpoint: MODEL,
  headers: { authorization: `Bearer ${WORKERS_AI_TOKEN}`, "content-type": "application/json", ...options.headers },
  query: { prompt: options.prompt ?? "tell me a joke", ...(options.stream ? { stream: true } : {}) },
});

/** An OpenAI chat completion step (another target than the Workers AI steps, for fallback). */
const openaiStep = (eventId: string) => ({
  eventId,
  provider: "openai",
  endpoint: "chat/completions",
  headers: { authorization: "Bearer sk-openai", "content-type": "application/json" },
  query: { model: "gpt-4o-mini", messages: [{ role: "user", content: "tell me a joke" }] },
});

/** What the mock answers a Workers AI text generation (non-streaming). */
const workersAnswer = (prompt = "tell me a joke") => {
  const { promptTokens, completionTokens } = expectedUsage({ prompt });
  return {
    result: { response: MOCK_REPLY, usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens } },
    success: true,
    errors: [],
    messages: [],
  };
};

/** The SSE events the mock streams for a Workers AI text generation, `[DONE]` excluded. */
const workersEvents = (prompt = "tell me a joke") => {
  const { usage } = workersAnswer(prompt).result;
  return [...MOCK_REPLY.split(" ").map((word, i) => ({ response: i === 0 ? word : ` ${word}` })), { response: "", usage }];
};

const metadata = (eventId: string, extra: Record<string, unknown> = {}) => ({
  cacheStatus: "MISS",
  eventId,
  logId: expect.stringMatching(ULID),
  step: "0",
  contentType: JSON_TYPE,
  ...extra,
});

/** A whole non-streaming answer: one `universal.created` carrying the provider's JSON. */
const createdFrame = (eventId: string, response: unknown, extra: Record<string, unknown> = {}) => ({
  type: "universal.created",
  metadata: metadata(eventId, extra),
  response,
});

/** A whole streaming answer: `universal.created`, one `universal.stream` per event, `universal.done`. */
const streamFrames = (eventId: string, events: unknown[] = workersEvents()) => [
  { type: "universal.created", metadata: metadata(eventId, { contentType: SSE_TYPE }) },
  ...events.map((response) => ({ type: "universal.stream", metadata: { eventId }, response })),
  { type: "universal.done", metadata: metadata(eventId, { contentType: SSE_TYPE }) },
];

/** `universal.error` with the AiGatewayError envelope. */
const errorFrame = (eventId: string | null, status: number, code: number) => ({
  type: "universal.error",
  metadata: { eventId, logId: expect.stringMatching(ULID) },
  error: envelopeOf(status, code),
});

const logIdOf = (frame: Frame) => frame.metadata.logId as string;

let t: GatewayWithMock;
let tokens: TokenStore;

beforeAll(async () => {
  t = await gatewayWithMock({
    gateways: {
      // Tests here send provider failures on purpose; the circuit breaker is not what they test.
      default: { breaker: { failures: 1000 } },
      locked: { authentication: true },
      limited: { rateLimit: { limit: 2, interval: 3600, key: "metadata:user" } },
    },
    plugins: ALL_PLUGINS,
  });
  tokens = t.gw.running.handle.stores.tokens;
});
afterAll(() => t[Symbol.asyncDispose]());
beforeEach(() => t.upstream.reset());

const url = (gateway = "default", suffix = "") => `${wsUrl(t.gw.base(gateway))}${suffix}`;

describe.each(CLIENT_KINDS)("with the %s client", (kind: ClientKind) => {
  describe("the reference §4a examples", () => {
    test("a non-streaming request answers one universal.created with the provider's JSON", async () => {
      await using s = await openSocket(kind, url("default", "/"));

      s.send(referenceFrame());
      const frames = await s.result("my-request");

      expect(frames).toEqual([createdFrame("my-request", workersAnswer())]);
      const received = t.upstream.lastRequest()!;
      expect({ method: received.method, path: received.path, body: received.json, authorization: received.headers.authorization }).toEqual({
        method: "POST",
        path: `/client/v4/accounts/local/ai/run/${MODEL}`,
        body: { prompt: "tell me a joke" },
        authorization: `Bearer ${WORKERS_AI_TOKEN}`,
      });
    });

    test("a streaming request answers universal.created, one universal.stream per event and universal.done; [DONE] is not forwarded", async () => {
      await using s = await openSocket(kind, url("default", "/"));

      s.send(referenceFrame({ prompt: "tell me a joke", stream: true }));
      const frames = await s.result("my-request");

      expect(frames).toEqual(streamFrames("my-request"));
      expect(frames[0]).not.toHaveProperty("response");
      // created and done carry the same metadata: one request, one log.
      expect(frames.at(-1)!.metadata).toEqual(frames[0].metadata);
    });

    test("the trailing slash of the path is optional", async () => {
      await using s = await openSocket(kind, url());

      s.create(workersStep(`${kind}-no-slash`));

      expect(await s.result(`${kind}-no-slash`)).toEqual([createdFrame(`${kind}-no-slash`, workersAnswer())]);
    });

    test("the reference frame as written (`Bearer …`) gets a universal.error naming the header, and the socket stays open", async () => {
      await using s = await openSocket(kind, url("default", "/"));

      s.send(REFERENCE_FRAME);
      const [error] = await s.result("my-request");

      expect(error).toEqual(errorFrame("my-request", 400, ErrorCode.BadRequest));
      expect(error.error!.message).toContain('"Authorization"');
      expect(t.upstream.requests).toHaveLength(0);
      s.create(workersStep(`${kind}-after`));
      expect(await s.result(`${kind}-after`)).toEqual([createdFrame(`${kind}-after`, workersAnswer())]);
    });
  });

  describe("multiplexing", () => {
    test("two streams on one socket interleave and are told apart by eventId", async () => {
      await using s = await openSocket(kind, url());
      const held = t.upstream.holdStream();

      s.create(workersStep("A", { stream: true }));
      await s.waitFor((frame) => frame.type === "universal.stream" && frame.metadata.eventId === "A");
      s.create(workersStep("B", { stream: true }));
      const b = await s.result("B");
      held.release();
      const a = await s.result("A");

      expect(a).toEqual(streamFrames("A"));
      expect(b).toEqual(streamFrames("B"));
      // A started, B ran whole while A was held, then A finished.
      expect(s.frames.map((frame) => frame.metadata.eventId)).toEqual(["A", "A", ...b.map(() => "B"), ...a.slice(2).map(() => "A")]);
      expect(a.at(-1)!.metadata.logId).not.toBe(b.at(-1)!.metadata.logId);
    });

    test("a slow request does not hold back a fast one sent after it", async () => {
      await using s = await openSocket(kind, url());

      s.create(workersStep("slow", { headers: { "x-mock-delay": "500" } }));
      s.create(workersStep("fast"));
      const [[slow], [fast]] = await Promise.all([s.result("slow"), s.result("fast")]);

      expect(s.frames.map((frame) => frame.metadata.eventId)).toEqual(["fast", "slow"]);
      expect(slow).toEqual(createdFrame("slow", workersAnswer()));
      expect(fast).toEqual(createdFrame("fast", workersAnswer()));
    });
  });

  describe("authentication", () => {
    test("a token in the cf-aig-authorization header of the upgrade authenticates every request", async () => {
      const { token, info } = await tokens.create({ gatewayId: "locked" });
      await using s = await openSocket(kind, url("locked"), { headers: { "cf-aig-authorization": `Bearer ${token}` } });

      s.create(workersStep(`${kind}-header-1`));
      s.create(workersStep(`${kind}-header-2`));
      const [[first], [second]] = await Promise.all([s.result(`${kind}-header-1`), s.result(`${kind}-header-2`)]);

      expect([first, second]).toEqual([createdFrame(`${kind}-header-1`, workersAnswer()), createdFrame(`${kind}-header-2`, workersAnswer())]);
      expect((await t.log(logIdOf(first), "locked"))?.token_id).toBe(info.id);
      expect(t.upstream.requests.map((r) => "cf-aig-authorization" in r.headers)).toEqual([false, false]);
    });

    test("a token offered only as a subprotocol authenticates; the server selects it, and it is in no log and never upstream", async () => {
      const { token, info } = await tokens.create({ gatewayId: "locked" });
      await using s = await openSocket(kind, url("locked"), { protocols: [`cf-aig-authorization.${token}`] });

      expect(s.protocol).toBe(`cf-aig-authorization.${token}`);
      s.create(workersStep(`${kind}-proto`));
      const [created] = await s.result(`${kind}-proto`);

      expect(created).toEqual(createdFrame(`${kind}-proto`, workersAnswer()));
      expect((await t.log(logIdOf(created), "locked"))?.token_id).toBe(info.id);
      expect(JSON.stringify(await t.logs("locked"))).not.toContain(token);
      expect(JSON.stringify(t.upstream.requests)).not.toContain(token);
    });

    test("with a protocol besides the credential, the server selects that protocol", async () => {
      const { token } = await tokens.create({ gatewayId: "locked" });
      await using s = await openSocket(kind, url("locked"), { protocols: [`cf-aig-authorization.${token}`, "chat"] });

      expect(s.protocol).toBe("chat");
      s.create(workersStep(`${kind}-chat`));
      expect(await s.result(`${kind}-chat`)).toEqual([createdFrame(`${kind}-chat`, workersAnswer())]);
    });

    test("a token revoked while the socket is open stops working from the next request (401/2009 in a universal.error)", async () => {
      const { token, info } = await tokens.create({ gatewayId: "locked" });
      await using s = await openSocket(kind, url("locked"), { headers: { "cf-aig-authorization": `Bearer ${token}` } });
      s.create(workersStep(`${kind}-before-revoke`));
      expect(await s.result(`${kind}-before-revoke`)).toEqual([createdFrame(`${kind}-before-revoke`, workersAnswer())]);

      expect(await tokens.revoke(info.id)).toBe(true);
      s.create(workersStep(`${kind}-after-revoke`));
      const [refused] = await s.result(`${kind}-after-revoke`);

      expect(refused).toEqual(errorFrame(`${kind}-after-revoke`, 401, ErrorCode.Unauthorized));
      expect(t.upstream.requests).toHaveLength(1);
      expect(await t.log(logIdOf(refused), "locked")).toMatchObject({ status_code: 401, error_code: ErrorCode.Unauthorized, request_type: "websocket" });
    });
  });

  describe("session headers", () => {
    test("cf-aig-metadata on the upgrade reaches every request's log; a step's own header overrides it for that request only", async () => {
      await using s = await openSocket(kind, url(), { headers: { "cf-aig-metadata": JSON.stringify({ user: "ada", client: kind }) } });

      s.create(workersStep(`${kind}-meta-1`));
      const [first] = await s.result(`${kind}-meta-1`);
      s.create(workersStep(`${kind}-meta-2`, { headers: { "cf-aig-metadata": JSON.stringify({ user: "bob" }) } }));
      const [second] = await s.result(`${kind}-meta-2`);
      s.create(workersStep(`${kind}-meta-3`));
      const [third] = await s.result(`${kind}-meta-3`);

      const logged = await Promise.all([first, second, third].map(async (frame) => JSON.parse((await t.log(logIdOf(frame)))!.metadata!)));
      expect(logged).toEqual([{ user: "ada", client: kind }, { user: "bob" }, { user: "ada", client: kind }]);
      // Gateway options stay at the gateway.
      expect(t.upstream.requests.map((r) => "cf-aig-metadata" in r.headers)).toEqual([false, false, false]);
    });

    test("cf-aig-cache-ttl on the upgrade caches: the second identical request is a HIT; cf-aig-skip-cache on a step skips it", async () => {
      await using s = await openSocket(kind, url(), { headers: { "cf-aig-cache-ttl": "60" } });
      const prompt = `cache me (${kind})`;

      s.create(workersStep(`${kind}-c1`, { prompt }));
      const [miss] = await s.result(`${kind}-c1`);
      s.create(workersStep(`${kind}-c2`, { prompt }));
      const [hit] = await s.result(`${kind}-c2`);
      s.create(workersStep(`${kind}-c3`, { prompt, headers: { "cf-aig-skip-cache": "true" } }));
      const [skipped] = await s.result(`${kind}-c3`);

      expect([miss, hit, skipped]).toEqual([
        createdFrame(`${kind}-c1`, workersAnswer(prompt)),
        createdFrame(`${kind}-c2`, workersAnswer(prompt), { cacheStatus: "HIT" }),
        createdFrame(`${kind}-c3`, workersAnswer(prompt)),
      ]);
      expect(t.upstream.requests).toHaveLength(2);
      expect(await t.log(logIdOf(hit))).toMatchObject({ cached: true, request_type: "websocket", event_id: `${kind}-c2` });
    });

    test("rate limits count each request on the socket: the third of a 2-request budget gets 429/2003", async () => {
      await using s = await openSocket(kind, url("limited"), { headers: { "cf-aig-metadata": JSON.stringify({ user: `rl-${kind}` }) } });
      const answers: Frame[] = [];
      for (const n of [1, 2, 3]) {
        s.create(workersStep(`${kind}-rl-${n}`));
        answers.push(...(await s.result(`${kind}-rl-${n}`)));
      }

      expect(answers).toEqual([
        createdFrame(`${kind}-rl-1`, workersAnswer()),
        createdFrame(`${kind}-rl-2`, workersAnswer()),
        errorFrame(`${kind}-rl-3`, 429, ErrorCode.RateLimited),
      ]);
      expect(t.upstream.requests).toHaveLength(2);
    });
  });

  describe("bad frames", () => {
    test("each gets a universal.error with the right code, the socket stays open and a valid request afterwards works", async () => {
      await using s = await openSocket(kind, url());
      const bad: [what: string, frame: unknown, expected: ReturnType<typeof errorFrame>][] = [
        ["not JSON", "tell me a joke", errorFrame(null, 400, ErrorCode.BadRequest)],
        ["binary", new Uint8Array([0x7b, 0x7d]), errorFrame(null, 400, ErrorCode.BadRequest)],
        ["a JSON array", "[1,2]", errorFrame(null, 400, ErrorCode.BadRequest)],
        ["an unknown type", { type: "universal.delete", request: workersStep("bad-type") }, errorFrame("bad-type", 400, ErrorCode.BadRequest)],
        ["no request", { type: "universal.create" }, errorFrame(null, 400, ErrorCode.BadRequest)],
        ["an unknown provider", { type: "universal.create", request: { ...workersStep("bad-provider"), provider: "no-such-provider" } }, errorFrame("bad-provider", 400, ErrorCode.UnknownProvider)],
        ["an empty array of steps", { type: "universal.create", request: [] }, errorFrame(null, 400, ErrorCode.BadRequest)],
        ["a step without endpoint", { type: "universal.create", request: [{ eventId: "bad-step", provider: "openai" }] }, errorFrame("bad-step", 400, ErrorCode.BadRequest)],
      ];

      for (const [, frame] of bad) s.send(frame);
      const answers: Frame[] = [];
      for (const _ of bad) answers.push(await s.next());
      s.create(workersStep(`${kind}-good`));
      const good = await s.result(`${kind}-good`);

      expect(answers.map((answer, i) => [bad[i][0], answer])).toEqual(bad.map(([what, , expected]) => [what, expected]));
      expect(answers.find((a) => a.metadata.eventId === "bad-provider")!.error!.message).toContain("no-such-provider");
      expect(good).toEqual([createdFrame(`${kind}-good`, workersAnswer())]);
      expect(t.upstream.requests).toHaveLength(1);
    });
  });

  describe("provider failures", () => {
    test("a provider 500 comes back as universal.created with metadata.status 500 and the provider's body", async () => {
      await using s = await openSocket(kind, url());

      s.create(workersStep(`${kind}-500`, { headers: { "x-mock-status": "500" } }));
      const frames = await s.result(`${kind}-500`);

      expect(frames).toEqual([
        createdFrame(`${kind}-500`, { result: null, success: false, errors: [{ code: 3043, message: "mock: scripted 500" }], messages: [] }, { status: 500 }),
      ]);
      expect(await t.log(logIdOf(frames[0]))).toMatchObject({ status_code: 500, success: false, request_type: "websocket" });
    });

    test("a stream that breaks mid-way sends its universal.stream frames, then universal.error 2114 and no universal.done", async () => {
      await using s = await openSocket(kind, url());

      s.create(workersStep(`${kind}-broken`, { stream: true, headers: { "x-mock-break-after": "2" } }));
      const frames = await s.result(`${kind}-broken`);

      const [created, ...streamed] = streamFrames(`${kind}-broken`);
      expect(frames).toEqual([created, ...streamed.slice(0, 2), errorFrame(`${kind}-broken`, 502, ErrorCode.StreamBroken)]);
      expect(frames.at(-1)!.metadata.logId).toBe(frames[0].metadata.logId);
      expect(await t.log(logIdOf(frames[0]))).toMatchObject({ success: false, error_code: ErrorCode.StreamBroken, request_type: "websocket" });
    });

    test("an array of steps falls back; the first step's eventId tags every frame and the serving step is named", async () => {
      await using s = await openSocket(kind, url());

      s.create([workersStep(`${kind}-first`, { headers: { "x-mock-status": "500" } }), openaiStep(`${kind}-second`)]);
      const frames = await s.result(`${kind}-first`);

      expect(frames).toEqual([
        createdFrame(`${kind}-first`, expect.objectContaining({ object: "chat.completion", choices: [expect.objectContaining({ message: expect.objectContaining({ content: MOCK_REPLY }) })] }), { step: "1" }),
      ]);
      expect(s.frames.filter((frame) => frame.metadata.eventId === `${kind}-second`)).toEqual([]);
      expect(t.upstream.requests.map((r) => r.path)).toEqual([`/client/v4/accounts/local/ai/run/${MODEL}`, "/v1/chat/completions"]);
      expect(await t.log(logIdOf(frames[0]))).toMatchObject({ step: 1, event_id: `${kind}-first`, request_type: "websocket", success: true });
    });
  });

  describe("a client that leaves", () => {
    test("mid-stream: the request ends at once, upstream call included, and is logged as ended by the client (2112)", async () => {
      const s = await openSocket(kind, url());
      const held = t.upstream.holdStream();
      s.create(workersStep(`${kind}-left`, { stream: true }));
      const first = await s.waitFor((frame) => frame.type === "universal.stream");
      const logId = logIdOf(s.frames[0]);
      const store = t.gw.running.handle.stores.logs;

      s.close();
      await s.closed;
      try {
        // The session cancels a relayed stream when its client leaves, even while the provider is silent.
        await within(500, "the request of the socket that left to end", async () => {
          await store.flush();
          return (await store.get("default", logId)) !== null;
        });
      } finally {
        held.release();
      }

      expect(first.response).toEqual(workersEvents()[0]);
      expect(await t.log(logId)).toMatchObject({ event_id: `${kind}-left`, request_type: "websocket", aborted: true, success: false, error_code: ErrorCode.ClientClosed });
    });
  });

  describe("logs", () => {
    test("each request is logged with request_type websocket and its eventId as event_id", async () => {
      await using s = await openSocket(kind, url());

      s.create(workersStep(`${kind}-log-1`));
      s.create(workersStep(`${kind}-log-2`, { stream: true }));
      const [[one], two] = await Promise.all([s.result(`${kind}-log-1`), s.result(`${kind}-log-2`)]);

      expect([await t.log(logIdOf(one)), await t.log(logIdOf(two[0]))]).toEqual([
        expect.objectContaining({ id: logIdOf(one), request_type: "websocket", event_id: `${kind}-log-1`, provider: "workers-ai", model: MODEL, status_code: 200, success: true }),
        expect.objectContaining({ id: logIdOf(two[0]), request_type: "websocket", event_id: `${kind}-log-2`, provider: "workers-ai", model: MODEL, status_code: 200, success: true }),
      ]);
    });

    test("a request without an eventId is tagged with a generated one, which is its log's event_id", async () => {
      await using s = await openSocket(kind, url());
      const { eventId: _, ...step } = workersStep("unused");

      s.create(step);
      const frame = await s.next();
      const log = await t.log(logIdOf(frame));

      expect(frame).toEqual(createdFrame(expect.any(String) as unknown as string, workersAnswer()));
      expect(log).toMatchObject({ request_type: "websocket", event_id: frame.metadata.eventId });
    });
  });
});

describe("refusals at the upgrade", () => {
  test("an authenticated gateway refuses an upgrade without a token with 401/2009, before accepting", async () => {
    const refusal = await refusedUpgrade(url("locked"));

    expect({ status: refusal.status, body: refusal.body }).toEqual({
      status: 401,
      body: { success: false, error: [{ code: ErrorCode.Unauthorized, message: expect.any(String) }], name: "AiGatewayError", httpCode: 401, internalCode: ErrorCode.Unauthorized, message: expect.any(String) },
    });
    expect(refusal.headers["cf-aig-log-id"]).toMatch(ULID);
  });

  test.each([
    ["a wrong token in the header", { headers: { "cf-aig-authorization": "Bearer sb_not-a-real-token-0000000000" } }],
    ["a wrong token as a subprotocol", { protocols: ["cf-aig-authorization.sb_not-a-real-token-0000000000"] }],
  ])("%s gets 401/2009", async (_, options) => {
    const refusal = await refusedUpgrade(url("locked"), options);

    expect([refusal.status, (refusal.body as { internalCode: number }).internalCode]).toEqual([401, ErrorCode.Unauthorized]);
  });

  test("a revoked token is refused at the upgrade", async () => {
    const { token, info } = await tokens.create({ gatewayId: "locked" });
    await tokens.revoke(info.id);

    const refusal = await refusedUpgrade(url("locked"), { headers: { "cf-aig-authorization": `Bearer ${token}` } });

    expect(refusal.status).toBe(401);
  });

  test("an unknown gateway gets 404/2001", async () => {
    const refusal = await refusedUpgrade(url("no-such-gateway"));

    expect([refusal.status, (refusal.body as { internalCode: number }).internalCode]).toEqual([404, ErrorCode.UnknownGateway]);
  });

  test("Bun's WebSocket fails to open without a token or on an unknown gateway", async () => {
    await expect(openSocket("bun", url("locked"))).rejects.toThrow();
    await expect(openSocket("bun", url("no-such-gateway"))).rejects.toThrow();
  });
});

describe("limits", () => {
  let limited: GatewayWithMock;
  beforeAll(async () => {
    limited = await gatewayWithMock({ server: { websocket: { maxFrameBytes: 4096, maxInFlight: 1 } }, plugins: ALL_PLUGINS });
  });
  afterAll(() => limited[Symbol.asyncDispose]());
  beforeEach(() => limited.upstream.reset());
  const limitedUrl = () => wsUrl(limited.gw.base());

  describe.each(CLIENT_KINDS)("with the %s client", (kind: ClientKind) => {
    test("a frame up to maxFrameBytes is served; a bigger one closes the socket with 1009", async () => {
      await using s = await openSocket(kind, limitedUrl());
      const frameOf = (eventId: string, bytes: number) => {
        const empty = JSON.stringify({ type: "universal.create", request: workersStep(eventId, { prompt: "" }) });
        return JSON.stringify({ type: "universal.create", request: workersStep(eventId, { prompt: "x".repeat(bytes - empty.length) }) });
      };
      const fits = frameOf(`${kind}-fits`, 4096);
      expect(fits.length).toBe(4096);

      s.send(fits);
      const [served] = await s.result(`${kind}-fits`);
      expect(served.type).toBe("universal.created");
      s.send(frameOf(`${kind}-too-big`, 4097));

      expect((await s.closed).code).toBe(1009);
      expect(limited.upstream.requests).toHaveLength(1);
    });

    test("past maxInFlight a request gets universal.error 2116; the one in flight is unaffected and the next is served", async () => {
      await using s = await openSocket(kind, limitedUrl());
      const held = limited.upstream.holdStream();

      s.create(workersStep(`${kind}-busy`, { stream: true }));
      await held.firstChunkSent;
      s.create(workersStep(`${kind}-second`));
      const second = await s.result(`${kind}-second`);
      held.release();
      const first = await s.result(`${kind}-busy`);
      s.create(workersStep(`${kind}-third`));
      const third = await s.result(`${kind}-third`);

      expect(second).toEqual([errorFrame(`${kind}-second`, 429, ErrorCode.TooManyInFlight)]);
      expect(first).toEqual(streamFrames(`${kind}-busy`));
      expect(third).toEqual([createdFrame(`${kind}-third`, workersAnswer())]);
    });
  });
});

describe("a client that does not read", () => {
  const MAX_BUFFERED = 64 * 1024;
  const COUNT = 1024;
  const SIZE = 32 * 1024;
  let slow: GatewayWithMock;
  let other: FrameSocket;
  let flood: Awaited<ReturnType<typeof stopReading>>;
  beforeAll(async () => {
    slow = await gatewayWithMock({ server: { websocket: { maxBufferedBytes: MAX_BUFFERED, maxInFlight: COUNT } }, plugins: ALL_PLUGINS });
    other = await openSocket("ws", wsUrl(slow.gw.base()));
    flood = await stopReading(COUNT, SIZE);
  });
  afterAll(async () => {
    await other[Symbol.asyncDispose]();
    await slow[Symbol.asyncDispose]();
  });

  /**
   * Opens a `ws` client, pauses its TCP socket (the kernel buffers fill, then the gateway's), and
   * sends `count` requests whose answers (the custom provider echoes the body) are ~`size` bytes
   * each, ~32 MiB in all. Reads again once the gateway has ended the requests it took and either
   * closed the socket (requests were ended: aborted log rows) or served every request; resolves
   * with what arrived before the close.
   */
  async function stopReading(count: number, size: number) {
    const s = await openSocket("ws", wsUrl(slow.gw.base()));
    const tcp = (s.raw as unknown as { _socket: Socket })._socket;
    let received = 0;
    tcp.on("data", (chunk: Buffer) => (received += chunk.length));
    tcp.pause();
    const filler = "x".repeat(size);
    for (let i = 0; i < count; i++) s.create({ eventId: `flood-${i}`, provider: "custom-mock", endpoint: "echo", query: { filler } });
    const store = slow.gw.running.handle.stores.logs;
    await within(3000, "the gateway to end the flood", async () => {
      await slow.gw.settle();
      const { rows } = await store.list("default", { page: 1, perPage: count, orderBy: "created_at", direction: "asc", filters: [] });
      return rows.some((row) => row.aborted) || slow.upstream.requests.length === count;
    });
    tcp.resume();
    const allServed = s.result(`flood-${count - 1}`).then(() => ({ code: 0, reason: "every request was answered and the socket is still open" }));
    const closed = await Promise.race([s.closed, allServed.catch(() => s.closed)]);
    s.close();
    return { closed, received, frames: s.frames, owed: count * size };
  }

  test("is closed with 1008 once its unread frames pass maxBufferedBytes; the gateway holds no more and keeps serving others", async () => {
    const { closed, received, frames, owed } = flood;

    expect(closed).toEqual({ code: 1008, reason: "the client is not reading: send buffer over server.websocket.maxBufferedBytes" });
    // Everything the gateway had buffered arrives before the close frame: far less than was owed.
    expect(received).toBeLessThan(owed / 2);
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.every((frame) => frame.type === "universal.created")).toBe(true);
    other.create(workersStep("still-served"));
    expect(await other.result("still-served")).toEqual([createdFrame("still-served", workersAnswer())]);
  });

  test("the requests ended by that close are recorded as ended by the client (2112), not as gateway failures", async () => {
    const logs = await slow.logs();
    const ended = logs.filter((log) => log.aborted);
    expect(ended.length).toBeGreaterThan(0);
    expect(ended.filter((log) => log.error_code !== ErrorCode.ClientClosed).map((log) => `${log.status_code}/${log.error_code}`)).toEqual([]);
  });

  test("a client that reads gets an answer bigger than maxBufferedBytes", async () => {
    await using s = await openSocket("ws", wsUrl(slow.gw.base()));
    const filler = "x".repeat(2 * MAX_BUFFERED);

    s.create({ eventId: "big-answer", provider: "custom-mock", endpoint: "echo", query: { filler } });

    const frames = await s.result("big-answer");
    expect(frames).toEqual([createdFrame("big-answer", { method: "POST", path: "/custom/echo", search: "", body: JSON.stringify({ filler }) })]);
  });
});

/** Waits until `condition` holds, checking every few ms; fails after `ms`. */
async function within(ms: number, what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
