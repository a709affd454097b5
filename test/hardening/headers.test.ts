/**
 * Issue 22, hardening: every `cf-aig-*` header the gateway reads (and the deprecated `cf-cache-ttl` /
 * `cf-skip-cache`, and `traceparent`, which the OTLP exporter parses), each with 200 values from a
 * seeded fuzzer — numbers at and past every limit, booleans in every spelling, JSON of every shape,
 * injection strings, Latin-1, 8 KB runs — sent round-robin over the provider route, Universal, compat
 * and a WebSocket step. Every answer is the provider's 2xx or the envelope with a documented code
 * (400/2104 a bad option, 400/2105 bad metadata, 401/2009 a bad token, 504/2111 a first-byte timeout
 * of a few ms): never another 5xx. Values `fetch` cannot send go over raw sockets.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { ULID } from "../support/gateway-error.ts";
import { answerOf, expectAlive, expectClear, inPool, type Allowed } from "../support/hardening-checks.ts";
import { Fuzzer, seedOf } from "../support/hardening-fuzz.ts";
import { startCollector, type Collector } from "../support/otel-collector.ts";
import { rawHttp } from "../support/raw-http.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";
import { openSocket, wsUrl, type FrameSocket } from "../support/ws-client.ts";

// Bun's default 5 s is short for cases that overflow the stack or flood a socket on 2 shared cores.
setDefaultTimeout(30_000);

const TOKEN = "hardening-headers-token-0123456789";
const VALUES_PER_HEADER = 200;

/** Every request header the gateway reads as an option (grep src and plugins for `cf-aig-`), plus traceparent. */
const HEADERS = [
  "cf-aig-authorization",
  "cf-aig-backoff",
  "cf-aig-cache-key",
  "cf-aig-cache-ttl",
  "cf-aig-collect-log",
  "cf-aig-collect-log-payload",
  "cf-aig-custom-cost",
  "cf-aig-event-id",
  "cf-aig-max-attempts",
  "cf-aig-metadata",
  "cf-aig-request-timeout",
  "cf-aig-retry-delay",
  "cf-aig-skip-cache",
  "cf-cache-ttl",
  "cf-skip-cache",
  "traceparent",
];

/** Values each header accepts. */
const VALID: Record<string, string[]> = {
  "cf-aig-authorization": [`Bearer ${TOKEN}`, `bearer ${TOKEN}`],
  "cf-aig-backoff": ["constant", "linear", "exponential"],
  "cf-aig-cache-key": ["my-key", "k"],
  "cf-aig-cache-ttl": ["0", "60", "3600"],
  "cf-aig-collect-log": ["true", "false"],
  "cf-aig-collect-log-payload": ["true", "false"],
  "cf-aig-custom-cost": ['{"per_token_in":0.000001,"per_token_out":0.000002}'],
  "cf-aig-event-id": ["my-event", "evt-1"],
  "cf-aig-max-attempts": ["1", "2", "5"],
  "cf-aig-metadata": ['{"user":"ada","team":"ml"}', '{"n":1,"b":true}'],
  "cf-aig-request-timeout": ["5000", "60000"],
  "cf-aig-retry-delay": ["0", "100"],
  "cf-aig-skip-cache": ["true", "false"],
  "cf-cache-ttl": ["60"],
  "cf-skip-cache": ["false"],
  traceparent: ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
};

const ALLOWED: Allowed = [
  [400, ErrorCode.InvalidHeader],
  [400, ErrorCode.InvalidMetadata],
  [401, ErrorCode.Unauthorized],
  // A fuzzed cf-aig-request-timeout of a few ms may pass before the mock's first byte: documented.
  [504, ErrorCode.UpstreamTimeout],
];

let t: GatewayWithMock;
let collector: Collector;
let socket: FrameSocket;
beforeAll(async () => {
  collector = await startCollector();
  t = await gatewayWithMock({
    server: { otel: { endpoint: collector.url, batchSize: 512, intervalMs: 60_000 } },
    gateways: { default: { authentication: true, tokens: [TOKEN] } },
    plugins: ["auth", "metadata", "cache", "budget", "rate-limit", "fallback", "logging"],
  });
  socket = await openSocket("ws", wsUrl(t.gw.base()), { headers: { "cf-aig-authorization": `Bearer ${TOKEN}` } });
});
afterAll(async () => {
  await socket[Symbol.asyncDispose]();
  await t[Symbol.asyncDispose]();
  await collector.stop();
});

const chat = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 5 };
type Transport = "provider" | "universal" | "compat" | "websocket";
const TRANSPORTS: Transport[] = ["provider", "universal", "compat", "websocket"];

/** One request with `name: value` (and the gateway token, unless the fuzzed header is the token). */
async function send(transport: Transport, name: string, value: string, index: number): Promise<{ status: number; code: number | null; envelope: boolean; body: string; eventId?: string | null }> {
  const headers: Record<string, string> = { "content-type": "application/json", authorization: "Bearer sk-client" };
  if (name !== "cf-aig-authorization") headers["cf-aig-authorization"] = `Bearer ${TOKEN}`;
  headers[name] = value;
  if (transport === "websocket") {
    const eventId = `${name}-${index}`;
    socket.create({ eventId, provider: "openai", endpoint: "chat/completions", headers: { [name]: value, authorization: "Bearer sk-client" }, query: chat });
    const last = (await socket.result(eventId)).at(-1)!;
    if (last.type === "universal.error") return { status: last.error!.httpCode, code: last.error!.internalCode, envelope: last.error!.name === "AiGatewayError", body: JSON.stringify(last.error) };
    return { status: (last.metadata.status as number | undefined) ?? 200, code: null, envelope: false, body: JSON.stringify(last.response) };
  }
  const [url, body] =
    transport === "provider"
      ? [`${t.gw.base()}/openai/chat/completions`, chat]
      : transport === "universal"
        ? [t.gw.base(), [{ provider: "openai", endpoint: "chat/completions", headers: { authorization: "Bearer sk-client" }, query: chat }]]
        : [`${t.gw.base()}/compat/chat/completions`, { ...chat, model: "openai/gpt-4o-mini" }];
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
  const answer = await answerOf(response);
  return { ...answer, eventId: response.headers.get("cf-aig-event-id") };
}

describe("fuzzed header values", () => {
  test.each(HEADERS)(`%s: ${VALUES_PER_HEADER} seeded values, each a 2xx or a documented refusal`, async (name) => {
    const fuzz = new Fuzzer(seedOf(name));
    // One value in ten is a valid one, so every header's run exercises the path that uses it too.
    const values = Array.from({ length: VALUES_PER_HEADER }, (_, i) => (i % 10 === 9 ? fuzz.pick(VALID[name]) : fuzz.headerValue()));

    const answers = await inPool(values, 8, (value, i) => send(TRANSPORTS[i % TRANSPORTS.length], name, value, i));

    answers.forEach((answer, i) => expectClear(answer, `${name}: ${JSON.stringify(values[i].slice(0, 80))} over ${TRANSPORTS[i % TRANSPORTS.length]}`, ALLOWED));
    if (name === "cf-aig-event-id") {
      // The client's event id comes back as sent (fetch trims the ends), on answers and refusals alike.
      answers.forEach((answer, i) => TRANSPORTS[i % 4] !== "websocket" && expect({ i, eventId: answer.eventId }).toEqual({ i, eventId: values[i].trim() || expect.stringMatching(ULID) }));
    }
    // Each header's run shows both outcomes where it can: the fuzzer is not only making refusals.
    expect(answers.some((answer) => answer.status === 200)).toBe(true);
    await expectAlive(t.gw.url);
  });
});

describe("header values fetch cannot send", () => {
  // Written as UTF-8 by the socket: control bytes Bun refuses, and multi-byte characters fetch would not send.
  const UNSENDABLE = ["a\u0000b", "a\u0001b", "\u007f", "a\u000bb", "caf\u00e9 \u00ff \u4e2d"];

  test.each(HEADERS)("%s with control bytes and raw UTF-8 gets Bun's bare 400 or a clear answer", async (name) => {
    for (const value of UNSENDABLE) {
      const body = JSON.stringify(chat);
      const head = [`POST /v1/local/default/openai/chat/completions HTTP/1.1`, "Host: gw", "Content-Type: application/json", `cf-aig-authorization: Bearer ${TOKEN}`, `${name}: ${value}`, `Content-Length: ${body.length}`, "Connection: close", "", body];
      const answer = await rawHttp(t.gw.url, head.join("\r\n"));
      if (answer.status === 400 && answer.body === "") continue;
      expectClear(await answerOf(answer.response()), `${name}: ${JSON.stringify(value)} (raw)`, ALLOWED);
    }
    await expectAlive(t.gw.url);
  });
});
