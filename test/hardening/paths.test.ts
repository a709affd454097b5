/**
 * Issue 22, hardening: path tricks and hostile provider segments on every route — the provider
 * route's account, gateway, provider and endpoint segments, Universal steps' `provider` and
 * `endpoint`, the compat `model` (a Gemini model becomes part of a URL path), route names, WebSocket
 * `request` fields and realtime relay paths. Every hostile value names a local trap listener in the
 * spellings a careless URL builder would follow; the trap must see no connection, each answer is a
 * documented refusal or a request confined to the provider's configured base, and the gateway keeps
 * answering `/health`.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { answerOf, expectAlive, expectClear, type Allowed } from "../support/hardening-checks.ts";
import { hostileSegments, startTrap, type Trap } from "../support/hardening-trap.ts";
import { rawHttp } from "../support/raw-http.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";
import { openSocket, refusedUpgrade, wsUrl, type FrameSocket } from "../support/ws-client.ts";

// Bun's default 5 s is short for cases that overflow the stack or flood a socket on 2 shared cores.
setDefaultTimeout(30_000);

const HELD = "sk-held-SECRET-paths";
const chat = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
const json = { "content-type": "application/json" };

const trap: Trap = startTrap();
const HOSTILE = hostileSegments(trap.hostPort);
let t: GatewayWithMock;

/** Where a request for each provider may land at the mock (its configured base path). */
const BASES: Record<string, RegExp> = {
  openai: /^\/v1(\/|$)/,
  anthropic: /^\//,
  "google-ai-studio": /^\//,
  "workers-ai": /^\/client\/v4\/accounts\/local\/ai\//,
  "custom-mock": /^\/custom(\/|$)/,
  "azure-openai": /^\/my-res\/openai\/deployments\/dep(\/|$)/,
};

beforeAll(async () => {
  t = await gatewayWithMock((upstream) => ({
    providers: {
      openai: { baseUrl: `${upstream}/v1`, apiKey: HELD },
      anthropic: { baseUrl: upstream, apiKey: HELD },
      "google-ai-studio": { baseUrl: upstream, apiKey: HELD },
      "workers-ai": { baseUrl: `${upstream}/client/v4/accounts/{account}/ai/run`, apiKey: HELD },
      "custom-mock": { baseUrl: `${upstream}/custom`, apiKey: HELD },
      "azure-openai": { baseUrl: `${upstream}/{resource}/openai/deployments/{deployment}`, apiKey: HELD },
    },
    routes: { chat: { targets: [{ model: "openai/gpt-4o-mini" }] } },
    plugins: ["auth", "metadata", "cache", "budget", "rate-limit", "fallback", "logging"],
  }));
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
  trap.stop();
});

/**
 * Asserts the requests the mock received since `before` all landed under `provider`'s base, none
 * carrying the held key back to the client in `body`; returns how many there were.
 */
function expectConfined(before: number, provider: string, what: string, body: string): number {
  const landed = t.upstream.requests.slice(before).map((request) => request.path);
  expect({ what, outside: landed.filter((path) => !BASES[provider].test(path)), leaked: body.includes(HELD) }).toEqual({ what, outside: [], leaked: false });
  return landed.length;
}

/** The end of every case: nothing reached the trap, and the gateway still answers. */
async function expectTrapUntouchedAndAlive(): Promise<void> {
  expect(trap.connections).toBe(0);
  await expectAlive(t.gw.url);
}

const REFUSED_SEGMENT: Allowed = [
  [400, ErrorCode.UnknownProvider],
  [400, ErrorCode.BadRequest],
  [404, ErrorCode.NotFound],
  [404, ErrorCode.UnknownGateway],
];
/** Refusals of a hostile endpoint. `fetch` resolves `%2e%2e` segments itself, so the path may climb into the gateway segment. */
const REFUSED_ENDPOINT: Allowed = [...REFUSED_SEGMENT];

describe("the provider route", () => {
  test.each(HOSTILE)("a provider segment %s is an unknown provider or a malformed path; nothing is sent", async (hostile) => {
    const before = t.upstream.requests.length;

    const fetched = await answerOf(await fetch(`${t.gw.base()}/${hostile}/chat/completions`, { method: "POST", headers: json, body: chat }));
    const raw = await rawHttp(t.gw.url, `POST /v1/local/default/${hostile}/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: ${chat.length}\r\nConnection: close\r\n\r\n${chat}`);

    expectClear(fetched, `fetch provider ${hostile}`, REFUSED_SEGMENT, { success: false });
    // Bun itself refuses a few request-targets (a raw `\`) with a bare 400 before any handler runs.
    if (raw.status !== 400 || raw.body !== "") expectClear(await answerOf(raw.response()), `raw provider ${hostile}`, REFUSED_SEGMENT, { success: false });
    expect(t.upstream.requests.length).toBe(before);
    await expectTrapUntouchedAndAlive();
  });

  test.each(Object.keys(BASES))("every hostile endpoint after %s is refused with 400 or stays under its base", async (provider) => {
    const prefix = provider === "azure-openai" ? "my-res/dep/" : "";
    const outcomes: string[] = [];
    for (const hostile of HOSTILE) {
      const path = `/v1/local/default/${provider}/${prefix}${hostile}`;
      for (const send of ["fetch", "raw"] as const) {
        const before = t.upstream.requests.length;
        const answer =
          send === "fetch"
            ? await answerOf(await fetch(`${t.gw.url}${path}`, { method: "POST", headers: json, body: chat }))
            : await answerOf((await rawHttp(t.gw.url, `POST ${path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: ${chat.length}\r\nConnection: close\r\n\r\n${chat}`)).response());
        const sent = expectConfined(before, provider, `${send} ${path}`, answer.body);
        if (sent === 0) expectClear(answer, `${send} ${path}`, REFUSED_ENDPOINT, { success: false });
        outcomes.push(sent === 0 ? "refused" : "forwarded");
      }
    }

    // Both kinds happen: the guard is not a blanket refusal of anything odd-looking.
    expect(new Set(outcomes)).toEqual(new Set(["refused", "forwarded"]));
    await expectTrapUntouchedAndAlive();
  });

  test("a hostile account or gateway segment is refused before any URL is built", async () => {
    const before = t.upstream.requests.length;
    const answers = [];
    for (const hostile of HOSTILE) {
      answers.push({ what: `account ${hostile}`, answer: await answerOf(await fetch(`${t.gw.url}/v1/${hostile}/default/workers-ai/@cf/meta/llama`, { method: "POST", headers: json, body: chat })) });
      answers.push({ what: `gateway ${hostile}`, answer: await answerOf(await fetch(`${t.gw.url}/v1/local/${hostile}/openai/chat/completions`, { method: "POST", headers: json, body: chat })) });
    }

    for (const { what, answer } of answers) expectClear(answer, what, REFUSED_SEGMENT, { success: false });
    expect(t.upstream.requests.length).toBe(before);
    await expectTrapUntouchedAndAlive();
  });

  test("client headers that name another host (Host, X-Forwarded-Host, x-fal-target-url, Forwarded) change nothing about where the request goes", async () => {
    const before = t.upstream.requests.length;
    const headers = { ...json, "x-forwarded-host": trap.hostPort, "x-fal-target-url": `http://${trap.hostPort}/x`, forwarded: `host=${trap.hostPort}`, "x-original-url": `http://${trap.hostPort}/` };

    const answers = await Promise.all(["openai/chat/completions", "custom-mock/echo"].map(async (path) => answerOf(await fetch(`${t.gw.base()}/${path}`, { method: "POST", headers, body: chat }))));
    const raw = await rawHttp(t.gw.url, `POST /v1/local/default/custom-mock/echo HTTP/1.1\r\nHost: ${trap.hostPort}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);

    expect([...answers.map((answer) => answer.status), raw.status]).toEqual([200, 200, 200]);
    expect(t.upstream.requests.slice(before).map((request) => request.path)).toEqual(["/v1/chat/completions", "/custom/echo", "/custom/echo"]);
    await expectTrapUntouchedAndAlive();
  });

  test("a provider that redirects to another host is not followed: the 3xx goes back to the client", async () => {
    t.upstream.failNext({ status: 302, headers: { location: `http://${trap.hostPort}/steal` }, body: {} });

    const answer = await fetch(`${t.gw.base()}/openai/chat/completions`, { method: "POST", headers: json, body: chat, redirect: "manual" });
    await answer.arrayBuffer();

    expect({ status: answer.status, location: answer.headers.get("location") }).toEqual({ status: 302, location: `http://${trap.hostPort}/steal` });
    await expectTrapUntouchedAndAlive();
  });
});

describe("Universal steps", () => {
  const universal = async (steps: unknown) => answerOf(await fetch(t.gw.base(), { method: "POST", headers: json, body: JSON.stringify(steps) }));

  test.each(HOSTILE)("a step provider %s is 400/2101 naming the step; nothing is sent", async (hostile) => {
    const before = t.upstream.requests.length;

    const answer = await universal([{ provider: hostile, endpoint: "chat/completions", query: JSON.parse(chat) }]);

    expectClear(answer, `provider ${hostile}`, [[400, ErrorCode.UnknownProvider]], { success: false });
    expect(t.upstream.requests.length).toBe(before);
    await expectTrapUntouchedAndAlive();
  });

  test.each(["openai", "workers-ai", "custom-mock", "google-ai-studio"])("every hostile endpoint of a %s step is refused with 400 or stays under its base", async (provider) => {
    for (const hostile of [...HOSTILE, `https://${trap.hostPort}/x`, `/\\${trap.hostPort}`, `v1/../../${trap.hostPort}`]) {
      const before = t.upstream.requests.length;
      const answer = await universal([{ provider, endpoint: hostile, query: JSON.parse(chat) }]);
      if (expectConfined(before, provider, `step endpoint ${hostile}`, answer.body) === 0) {
        expectClear(answer, `step endpoint ${hostile}`, [[400, ErrorCode.BadRequest]], { success: false });
      }
    }
    await expectTrapUntouchedAndAlive();
  });

  test("an Azure step cannot put a host into the resource or deployment", async () => {
    for (const hostile of HOSTILE) {
      const before = t.upstream.requests.length;
      const answers = [await universal([{ provider: "azure-openai", endpoint: `${hostile}/dep/chat/completions` }]), await universal([{ provider: "azure-openai", endpoint: `my-res/${hostile}/chat/completions` }])];
      expect(expectConfined(before, "azure-openai", `azure ${hostile}`, answers.map((a) => a.body).join(""))).toBe(0);
      for (const answer of answers) expectClear(answer, `azure ${hostile}`, [[400, ErrorCode.BadRequest]], { success: false });
    }
    await expectTrapUntouchedAndAlive();
  });

  test("a step's headers cannot redirect it: Host and hop-by-hop headers are dropped, the request lands on the base", async () => {
    const before = t.upstream.requests.length;

    const answer = await universal([{ provider: "custom-mock", endpoint: "echo", headers: { host: trap.hostPort, "x-forwarded-host": trap.hostPort, connection: "x-forwarded-host" }, query: {} }]);

    expect(answer.status).toBe(200);
    expect(t.upstream.requests.slice(before).map(({ path, headers }) => ({ path, host: headers.host }))).toEqual([{ path: "/custom/echo", host: new URL(t.upstream.url).host }]);
    await expectTrapUntouchedAndAlive();
  });
});

describe("the compat model", () => {
  const compat = async (model: string) => answerOf(await fetch(`${t.gw.base()}/compat/chat/completions`, { method: "POST", headers: json, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }) }));

  test.each(HOSTILE)("a provider prefix %s is 400 (2101 or 2019); nothing is sent", async (hostile) => {
    const before = t.upstream.requests.length;

    const answer = await compat(`${hostile}/gpt-4o-mini`);

    expectClear(answer, `compat provider ${hostile}`, [[400, ErrorCode.UnknownProvider], [400, ErrorCode.CompatBadFormat]], { success: false });
    expect(t.upstream.requests.length).toBe(before);
    await expectTrapUntouchedAndAlive();
  });

  test.each(["openai", "anthropic", "google-ai-studio", "workers-ai", "custom-mock"])("every hostile %s model is refused or sent to the configured base (Gemini puts it in the URL path)", async (provider) => {
    for (const hostile of HOSTILE) {
      const before = t.upstream.requests.length;
      const answer = await compat(`${provider}/${hostile}`);
      const sent = expectConfined(before, provider, `compat ${provider}/${hostile}`, answer.body);
      if (sent === 0) expectClear(answer, `compat ${provider}/${hostile}`, [[400, ErrorCode.BadRequest], [400, ErrorCode.CompatBadFormat], [400, ErrorCode.NotTranslatable]], { success: false });
    }
    // The guard is not a blanket refusal: a plain model name still goes through.
    const before = t.upstream.requests.length;
    await compat(`${provider}/plain-model-1.5`);
    expect(expectConfined(before, provider, `compat ${provider}/plain-model-1.5`, "")).toBe(1);
    await expectTrapUntouchedAndAlive();
  });

  test("a hostile route name is 400/2140 and a hostile compat path is 404/2100", async () => {
    const routes = await Promise.all(HOSTILE.map((hostile) => compat(`dynamic/${hostile}`)));
    const paths = await Promise.all(HOSTILE.map(async (hostile) => answerOf(await fetch(`${t.gw.base()}/compat/${hostile}`, { method: "POST", headers: json, body: chat }))));

    routes.forEach((answer, i) => expectClear(answer, `route ${HOSTILE[i]}`, [[400, ErrorCode.UnknownRoute]], { success: false }));
    paths.forEach((answer, i) => expectClear(answer, `compat path ${HOSTILE[i]}`, [...REFUSED_ENDPOINT, [405, ErrorCode.MethodNotAllowed]], { success: false }));
    await expectTrapUntouchedAndAlive();
  });
});

describe("WebSocket requests", () => {
  let socket: FrameSocket;
  beforeAll(async () => {
    socket = await openSocket("ws", wsUrl(t.gw.base()));
  });
  afterAll(() => socket[Symbol.asyncDispose]());

  test("hostile provider and endpoint fields get universal.error 400 or stay under the base; the socket stays open", async () => {
    const sent: { eventId: string; provider: string; hostile: string }[] = [];
    HOSTILE.forEach((hostile, i) => {
      for (const [field, provider] of [["provider", hostile], ["endpoint", "openai"], ["endpoint", "custom-mock"]] as const) {
        const eventId = `ws-${i}-${field}-${provider === hostile ? "p" : provider}`;
        socket.create({ eventId, provider, endpoint: field === "endpoint" ? hostile : "chat/completions", query: JSON.parse(chat) });
        sent.push({ eventId, provider, hostile });
      }
    });

    for (const { eventId, provider, hostile } of sent) {
      const frames = await socket.result(eventId);
      const last = frames.at(-1)!;
      if (last.type === "universal.error") {
        const refusal = [ErrorCode.BadRequest, ErrorCode.UnknownProvider].includes(last.error?.internalCode as never);
        expect({ eventId, refusal, status: last.error?.httpCode }).toEqual({ eventId, refusal: true, status: 400 });
      } else {
        expect({ eventId, type: last.type, forwarded: provider === "openai" || provider === "custom-mock" }).toEqual({ eventId, type: "universal.created", forwarded: true });
      }
    }
    expect(t.upstream.requests.filter((request) => !Object.values(BASES).some((base) => base.test(request.path)))).toEqual([]);
    await expectTrapUntouchedAndAlive();
  });

  test("hostile header names and values in a step are refused with universal.error 400, not sent", async () => {
    const before = t.upstream.requests.length;
    const cases = [{ "bad name": "x" }, { "x-a": "line\r\nHost: evil" }, { "x-a": "nul\u0000" }, { ":authority": trap.hostPort }, { "x-a": { nested: true } }];

    cases.forEach((headers, i) => socket.create({ eventId: `hdr-${i}`, provider: "custom-mock", endpoint: "echo", headers, query: {} }));
    const results = await Promise.all(cases.map((_, i) => socket.result(`hdr-${i}`)));

    expect(results.map((frames) => [frames.at(-1)!.type, frames.at(-1)!.error?.internalCode])).toEqual(cases.map(() => ["universal.error", ErrorCode.BadRequest]));
    expect(t.upstream.requests.length).toBe(before);
    await expectTrapUntouchedAndAlive();
  });
});

describe("realtime relay paths", () => {
  test("hostile relay paths and ?model= values are refused before the handshake, or relayed under the base", async () => {
    // `ws` refuses to send a URL with a fragment, so `#` travels encoded.
    const urls = HOSTILE.map((hostile) => hostile.replaceAll("#", "%23")).flatMap((hostile) => [
      `${wsUrl(t.gw.base())}/custom-mock/${hostile}`,
      `${wsUrl(t.gw.base())}/workers-ai?model=${encodeURIComponent(hostile)}`,
      `${wsUrl(t.gw.base())}/${hostile}`,
    ]);

    for (const url of urls) {
      const refusal = await refusedUpgrade(url).catch((error: Error) => ({ status: 101, headers: {}, body: error.message }));
      // Accepted relays go to the mock, which speaks no WebSocket: the session then ends with 1011.
      if (refusal.status !== 101) {
        const code = envelopeCodeOf(refusal.body, refusal.status);
        expectClear({ status: refusal.status, code, envelope: code !== null, body: JSON.stringify(refusal.body) }, url, REFUSED_ENDPOINT, { success: false });
      }
    }
    await expectTrapUntouchedAndAlive();
  });
});

describe("in the end", () => {
  test("with every request and relay session finished, the trap has seen no connection at all", async () => {
    await t.gw.settle();

    expect(t.gw.running.pipeline.inFlight).toBe(0);
    await expectTrapUntouchedAndAlive();
  });
});

function envelopeCodeOf(body: unknown, status: number): number | null {
  const fields = body as { httpCode?: number; internalCode?: number; name?: string } | null;
  return fields?.name === "AiGatewayError" && fields.httpCode === status ? (fields.internalCode ?? null) : null;
}
