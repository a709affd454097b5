/**
 * Issue 22, hardening: the WebSocket API under garbage. Frames that are not requests get a
 * `universal.error` with the envelope and the socket stays open; frames that break RFC 6455 (bad
 * masking, reserved bits, unknown opcodes, invalid UTF-8, oversized frames and length fields) close
 * the socket with the protocol's code; hostile upgrades are refused before the handshake; a client
 * that never reads is closed (1008) without holding the gateway. The gateway answers `/health`
 * after every group.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Socket } from "node:net";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { envelopeOf, ULID } from "../support/gateway-error.ts";
import { expectAlive, until } from "../support/hardening-checks.ts";
import { rawWebSocket } from "../support/hardening-ws.ts";
import { rawHttp } from "../support/raw-http.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";
import { openSocket, refusedUpgrade, wsUrl, type FrameSocket } from "../support/ws-client.ts";

// Bun's default 5 s is short for cases that overflow the stack or flood a socket on 2 shared cores.
setDefaultTimeout(30_000);

const TOKEN = "hardening-ws-gateway-token-0123456789";
const MAX_FRAME = 1024 * 1024;
const MAX_BUFFERED = 64 * 1024;

let t: GatewayWithMock;
beforeAll(async () => {
  t = await gatewayWithMock({
    server: { websocket: { maxFrameBytes: MAX_FRAME, maxBufferedBytes: MAX_BUFFERED, maxInFlight: 512 } },
    gateways: { locked: { authentication: true, tokens: [TOKEN] } },
    plugins: ["auth", "metadata", "cache", "budget", "rate-limit", "fallback", "logging"],
  });
});
afterAll(() => t[Symbol.asyncDispose]());

const echoStep = (eventId: string, query: unknown = {}) => ({ eventId, provider: "custom-mock", endpoint: "echo", query });
const createFrame = (eventId: string) => JSON.stringify({ type: "universal.create", request: echoStep(eventId) });

/** Asserts the socket still serves: a valid request on it gets its `universal.created`. */
async function expectServes(socket: FrameSocket, eventId: string): Promise<void> {
  socket.create(echoStep(eventId));
  const frames = await socket.result(eventId);
  expect(frames.map((frame) => frame.type)).toEqual(["universal.created"]);
}

/** Frames that are valid WebSocket text but not a request the gateway can run. */
const GARBAGE: [string, number, string][] = [
  ["an empty frame", ErrorCode.BadRequest, ""],
  ["whitespace", ErrorCode.BadRequest, "   "],
  ["null", ErrorCode.BadRequest, "null"],
  ["an array", ErrorCode.BadRequest, "[]"],
  ["an empty object", ErrorCode.BadRequest, "{}"],
  ["a numeric type", ErrorCode.BadRequest, '{"type":1}'],
  ["an unknown type", ErrorCode.BadRequest, '{"type":"universal.cancel"}'],
  ["type constructor", ErrorCode.BadRequest, '{"type":"constructor","request":{}}'],
  ["a create without a request", ErrorCode.BadRequest, '{"type":"universal.create"}'],
  ["a string request", ErrorCode.BadRequest, '{"type":"universal.create","request":"x"}'],
  ["an empty step array", ErrorCode.BadRequest, '{"type":"universal.create","request":[]}'],
  ["33 steps", ErrorCode.BadRequest, JSON.stringify({ type: "universal.create", request: Array.from({ length: 33 }, (_, i) => echoStep(`s${i}`)) })],
  ["an object eventId", ErrorCode.BadRequest, '{"type":"universal.create","request":{"eventId":{"a":1},"provider":"custom-mock"}}'],
  ["an unknown provider", ErrorCode.UnknownProvider, '{"type":"universal.create","request":{"provider":"nope","endpoint":"x"}}'],
  ["provider __proto__", ErrorCode.UnknownProvider, '{"type":"universal.create","request":{"provider":"__proto__","endpoint":"x"}}'],
  ["a nested header value", ErrorCode.BadRequest, '{"type":"universal.create","request":{"provider":"custom-mock","endpoint":"echo","headers":{"x":{"y":1}}}}'],
  ["a header with CRLF", ErrorCode.BadRequest, '{"type":"universal.create","request":{"provider":"custom-mock","endpoint":"echo","headers":{"x":"a\\r\\nb: c"}}}'],
  ["an unknown config field", ErrorCode.BadRequest, '{"type":"universal.create","request":{"provider":"custom-mock","endpoint":"echo","config":{"evil":1}}}'],
  ["maxAttempts 1e309", ErrorCode.BadRequest, '{"type":"universal.create","request":{"provider":"custom-mock","endpoint":"echo","config":{"maxAttempts":1e309}}}'],
  ["a cf-aig header out of range", ErrorCode.InvalidHeader, '{"type":"universal.create","request":{"provider":"custom-mock","endpoint":"echo","headers":{"cf-aig-max-attempts":"99"}}}'],
  ["a dot-segment endpoint", ErrorCode.BadRequest, '{"type":"universal.create","request":{"provider":"custom-mock","endpoint":"../x"}}'],
  ["truncated JSON", ErrorCode.BadRequest, '{"type":"universal.create","request":{"provider"'],
  ["a lone surrogate", ErrorCode.BadRequest, '{"type":"\\ud800"}'],
  ["a query nested 150,000 deep", ErrorCode.BadRequest, `{"type":"universal.create","request":{"provider":"custom-mock","endpoint":"echo","query":${"[".repeat(150_000)}${"]".repeat(150_000)}}}`],
  ["a query nested 150,000 deep (objects)", ErrorCode.BadRequest, `{"type":"universal.create","request":{"provider":"custom-mock","endpoint":"echo","query":${'{"a":'.repeat(150_000)}1${"}".repeat(150_000)}}}`],
];

describe("frames that are not requests", () => {
  let socket: FrameSocket;
  beforeAll(async () => {
    socket = await openSocket("ws", wsUrl(t.gw.base()));
  });
  afterAll(() => socket[Symbol.asyncDispose]());

  test.each(GARBAGE)("%s gets universal.error 400/%d and the socket keeps serving", async (what, code, frame) => {
    const before = socket.frames.length;

    socket.send(frame);
    const answer = await socket.waitFor((f) => socket.frames.indexOf(f) >= before);

    expect({ what, type: answer.type, error: answer.error }).toEqual({ what, type: "universal.error", error: envelopeOf(400, code) });
    expect(answer.metadata.logId).toMatch(ULID);
    await expectServes(socket, `after-${GARBAGE.findIndex(([w]) => w === what)}`);
  });

  test("a binary frame gets universal.error 400 and the socket keeps serving", async () => {
    const before = socket.frames.length;

    socket.send(new Uint8Array([0x7b, 0x7d, 0x00, 0xff]));
    const answer = await socket.waitFor((f) => socket.frames.indexOf(f) >= before);

    expect({ type: answer.type, error: answer.error }).toEqual({ type: "universal.error", error: envelopeOf(400, ErrorCode.BadRequest) });
    await expectServes(socket, "after-binary");
    await expectAlive(t.gw.url);
  });

  test("100 garbage frames in a burst each get their universal.error; nothing reaches a provider", async () => {
    const before = socket.frames.length;
    const upstreamBefore = t.upstream.requests.length;

    for (let i = 0; i < 100; i++) socket.send(GARBAGE[i % 12][2]);
    await socket.waitFor(() => socket.frames.length >= before + 100);

    expect(socket.frames.slice(before).map((frame) => frame.type)).toEqual(Array.from({ length: 100 }, () => "universal.error"));
    expect(t.upstream.requests.length).toBe(upstreamBefore);
    await expectServes(socket, "after-burst");
  });
});

/** Protocol violations: Bun closes the socket with the RFC 6455 code; the gateway is untouched. */
const VIOLATIONS: [string, number, (ws: Awaited<ReturnType<typeof rawWebSocket>>) => void][] = [
  ["invalid UTF-8 in a text frame", 1007, (ws) => ws.sendFrame(0x1, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))],
  ["an unmasked client frame", 1002, (ws) => ws.sendFrame(0x1, createFrame("x"), { mask: false })],
  ["RSV1 without an extension", 1002, (ws) => ws.sendFrame(0x1, createFrame("x"), { rsv: 4 })],
  ["reserved opcode 3", 1002, (ws) => ws.sendFrame(0x3, "{}")],
  ["a continuation with nothing to continue", 1002, (ws) => ws.sendFrame(0x0, "{}")],
  ["a new text frame inside a fragmented message", 1002, (ws) => (ws.sendFrame(0x1, "{", { fin: false }), ws.sendFrame(0x1, "{}"))],
  ["a 126-byte ping", 1002, (ws) => ws.sendFrame(0x9, "p".repeat(126))],
  ["a fragmented ping", 1002, (ws) => ws.sendFrame(0x9, "p", { fin: false })],
  ["a close with code 999", 1002, (ws) => ws.sendFrame(0x8, Buffer.from([0x03, 0xe7]))],
  ["a close with a one-byte payload", 1002, (ws) => ws.sendFrame(0x8, Buffer.from([0x03]))],
  ["a close reason that is not UTF-8", 1007, (ws) => ws.sendFrame(0x8, Buffer.from([0x03, 0xe8, 0xff]))],
  ["a length field of 2^63", 1009, (ws) => ws.sendFrame(0x1, "{}", { declaredLength: 2n ** 63n })],
  ["a frame one byte over maxFrameBytes", 1009, (ws) => ws.sendFrame(0x1, "x".repeat(MAX_FRAME + 1))],
  ["fragments adding up past maxFrameBytes", 1009, (ws) => (ws.sendFrame(0x1, "x".repeat(MAX_FRAME / 2), { fin: false }), ws.sendFrame(0x0, "x".repeat(MAX_FRAME / 2 + 1)))],
  ["an HTTP request after the handshake", 1002, (ws) => ws.sendRaw("GET / HTTP/1.1\r\nHost: gw\r\n\r\n")],
];

describe("frames that break the protocol", () => {
  test.each(VIOLATIONS)("%s closes the socket with %d", async (_, code, act) => {
    await using ws = await rawWebSocket(t.gw.base());
    expect(ws.status).toBe(101);

    act(ws);

    expect((await ws.closed).code).toBe(code);
  });

  test("a valid text message in two fragments, UTF-8 split between them, is served", async () => {
    await using ws = await rawWebSocket(t.gw.base());
    const frame = Buffer.from(JSON.stringify({ type: "universal.create", request: echoStep("fragmented", { text: "héllo wörld" }) }));
    const split = frame.indexOf("é") + 1;

    ws.sendFrame(0x1, frame.subarray(0, split), { fin: false });
    ws.sendFrame(0x0, frame.subarray(split));
    const answer = JSON.parse((await ws.next()).payload.toString("utf8"));

    expect({ type: answer.type, body: JSON.parse(answer.response.body) }).toEqual({ type: "universal.created", body: { text: "héllo wörld" } });
  });

  test("after all of them the gateway still answers, over HTTP and over a new socket", async () => {
    await using socket = await openSocket("bun", wsUrl(t.gw.base()));
    await expectServes(socket, "after-violations");
    await expectAlive(t.gw.url);
  });
});

describe("hostile upgrades", () => {
  const upgradeHead = (path: string, ...lines: string[]) => [`GET ${path} HTTP/1.1`, "Host: gw", "Upgrade: websocket", "Connection: Upgrade", ...lines, "", ""].join("\r\n");
  const KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";

  test.each([
    ["without Sec-WebSocket-Key", upgradeHead("/v1/local/default", "Sec-WebSocket-Version: 13"), 400, ErrorCode.BadRequest],
    ["to an unknown gateway", upgradeHead("/v1/local/nope", KEY, "Sec-WebSocket-Version: 13"), 404, ErrorCode.UnknownGateway],
    ["to an unknown provider's relay", upgradeHead("/v1/local/default/nope", KEY, "Sec-WebSocket-Version: 13"), 400, ErrorCode.UnknownProvider],
    ["to a provider without a realtime API", upgradeHead("/v1/local/default/anthropic", KEY, "Sec-WebSocket-Version: 13"), 400, ErrorCode.BadRequest],
  ] as const)("an upgrade %s is refused with the envelope before the handshake", async (_, head, status, code) => {
    const answer = await rawHttp(t.gw.url, head);

    expect({ status: answer.status, body: JSON.parse(answer.body) }).toEqual({ status, body: envelopeOf(status, code) });
  });

  test("an upgrade with Sec-WebSocket-Version 8 gets RFC 6455's 426 naming version 13 (Bun answers it during the upgrade)", async () => {
    const answer = await rawHttp(t.gw.url, upgradeHead("/v1/local/default", KEY, "Sec-WebSocket-Version: 8"));

    expect({ status: answer.status, version: answer.headers["sec-websocket-version"] }).toEqual({ status: 426, version: "13" });
    await expectAlive(t.gw.url);
  });

  test("on an authenticated gateway: no token, an empty subprotocol token, a wrong one, 5,000 offered subprotocols — each 401/2009", async () => {
    const url = wsUrl(t.gw.base("locked"));
    const refusals = await Promise.all([
      refusedUpgrade(url),
      refusedUpgrade(url, { protocols: ["cf-aig-authorization."] }),
      refusedUpgrade(url, { protocols: ["cf-aig-authorization.wrong-token"] }),
      refusedUpgrade(url, { headers: { "cf-aig-authorization": "Bearer" } }),
      refusedUpgrade(url, { protocols: Array.from({ length: 5000 }, (_, i) => `p${i}`) }).catch((error: Error) => ({ status: 431, headers: {}, body: error.message })),
    ]);

    expect(refusals.map(({ status }) => status)).toEqual([401, 401, 401, 401, expect.any(Number)]);
    for (const refusal of refusals.slice(0, 4)) expect(refusal.body).toEqual(envelopeOf(401, ErrorCode.Unauthorized));
    // 5,000 protocols make a head over Bun's limit (431) or a refusal; the right token still opens.
    expect([401, 431]).toContain(refusals[4].status);
    await using socket = await openSocket("ws", url, { protocols: [`cf-aig-authorization.${TOKEN}`] });
    await expectServes(socket, "locked-ok");
  });
});

describe("clients that misbehave at scale", () => {
  test("200 sockets dropped mid-request leave no request running and the gateway serving", async () => {
    const sockets = await Promise.all(Array.from({ length: 200 }, () => rawWebSocket(t.gw.base())));

    sockets.forEach((ws, i) => ws.sendFrame(0x1, JSON.stringify({ type: "universal.create", request: { ...echoStep(`drop-${i}`), headers: { "x-mock-delay": "50" } } })));
    for (const ws of sockets) ws.destroy();
    await Promise.all(sockets.map((ws) => ws.closed));

    // Frames that arrived before the close may start requests after it: each ends at once, none lingers.
    await until("every request of the dropped sockets to end", () => t.gw.running.pipeline.inFlight === 0, 5000);
    const logs = await t.logs();
    const dropped = logs.filter((log) => log.event_id.startsWith("drop-"));
    expect(dropped.filter((log) => log.success || !(log.aborted && log.error_code === ErrorCode.ClientClosed))).toEqual([]);
    await expectAlive(t.gw.url);
  });

  test("a client that never reads is closed with 1008 once its unread frames pass maxBufferedBytes; others are served meanwhile", async () => {
    const reader = await openSocket("ws", wsUrl(t.gw.base()));
    const stalled = await openSocket("ws", wsUrl(t.gw.base()));
    const tcp = (stalled.raw as unknown as { _socket: Socket })._socket;
    tcp.pause();
    const filler = "x".repeat(32 * 1024);

    const COUNT = 1024;
    const upstreamBefore = t.upstream.requests.length;
    for (let i = 0; i < COUNT; i++) stalled.create(echoStep(`flood-${i}`, { filler }));
    await expectServes(reader, "while-flooded");
    // Read again only once the gateway has ended every request it took (served, or ended by the close).
    await until("the flood to end", () => t.upstream.requests.length > upstreamBefore && t.gw.running.pipeline.inFlight === 0);
    tcp.resume();
    const closed = await stalled.closed;

    expect(closed).toEqual({ code: 1008, reason: "the client is not reading: send buffer over server.websocket.maxBufferedBytes" });
    await reader[Symbol.asyncDispose]();
    await t.gw.settle();
    expect(t.gw.running.pipeline.inFlight).toBe(0);
    await expectAlive(t.gw.url);
  });
});
