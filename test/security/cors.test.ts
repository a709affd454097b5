import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createRequire } from "node:module";
import type WsWebSocket from "ws";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { startTestGateway, type TestGateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/** `server.cors` opens the AI routes to the pages of the origins it names, and nothing else. */

const APP = "https://app.example.com";
const OTHER = "https://evil.example.net";
let upstream: MockUpstream;
let gw: TestGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gw = await startTestGateway({
    upstream: upstream.url,
    config: {
      server: { adminToken: "sb-admin-cors", cors: { origins: [APP], maxAge: 120 } },
      gateways: { locked: { authentication: true, tokens: ["sb-cors-token-0123456789abcdef"] } },
    },
  });
});
afterAll(async () => {
  await gw.stop();
  await upstream.stop();
});

const preflight = (url: string, origin: string) =>
  fetch(url, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, cf-aig-metadata" } });
const chat = (url: string, origin: string) =>
  fetch(url, {
    method: "POST",
    headers: { origin, "content-type": "application/json", authorization: "Bearer sk-client" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi from a page" }] }),
  });

describe("server.cors", () => {
  test("an allowed origin's preflight is answered by the gateway (204, its headers echoed) and never reaches the provider", async () => {
    const before = upstream.requests.length;
    const answers = await Promise.all([`${gw.base()}/openai/chat/completions`, gw.base(), `${gw.base()}/compat/chat/completions`].map((url) => preflight(url, APP)));

    for (const answer of answers) {
      expect({
        status: answer.status,
        origin: answer.headers.get("access-control-allow-origin"),
        headers: answer.headers.get("access-control-allow-headers"),
        methods: answer.headers.get("access-control-allow-methods"),
        maxAge: answer.headers.get("access-control-max-age"),
        credentials: answer.headers.get("access-control-allow-credentials"),
      }).toEqual({ status: 204, origin: APP, headers: "authorization, content-type, cf-aig-metadata", methods: "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS", maxAge: "120", credentials: null });
    }
    expect(upstream.requests.length).toBe(before);
  });

  test("an allowed origin's call gets its answer with the origin named and the cf-aig-* headers exposed", async () => {
    const answer = await chat(`${gw.base()}/openai/chat/completions`, APP);
    await answer.arrayBuffer();

    expect({
      status: answer.status,
      origin: answer.headers.get("access-control-allow-origin"),
      expose: answer.headers.get("access-control-expose-headers"),
      vary: answer.headers.get("vary"),
    }).toEqual({ status: 200, origin: APP, expose: "*", vary: "Origin" });
  });

  test("an error answer is readable by the allowed page too", async () => {
    const answer = await chat(`${gw.url}/v1/local/nope/openai/chat/completions`, APP);

    expect(answer.headers.get("access-control-allow-origin")).toBe(APP);
    await expectGatewayError(answer, 404, ErrorCode.UnknownGateway);
  });

  test("another origin gets no CORS header, and its preflight is refused (403 / 2117)", async () => {
    const call = await chat(`${gw.base()}/openai/chat/completions`, OTHER);
    await call.arrayBuffer();
    const refused = await preflight(`${gw.base()}/openai/chat/completions`, OTHER);

    expect(call.headers.get("access-control-allow-origin")).toBeNull();
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    await expectGatewayError(refused, 403, ErrorCode.CrossOriginRefused);
  });

  test("the admin API stays closed to every origin, the allowed one included", async () => {
    const admin = await fetch(`${gw.url}/client/v4/accounts/local/ai-gateway/gateways`, { headers: { origin: APP, authorization: "Bearer sb-admin-cors" } });
    await admin.arrayBuffer();

    expect({ status: admin.status, origin: admin.headers.get("access-control-allow-origin") }).toEqual({ status: 200, origin: null });
  });

  test("a config with a malformed origin is refused at start-up", async () => {
    await expect(startTestGateway({ config: { server: { cors: { origins: ["app.example.com/path"] } } } })).rejects.toThrow(/origins/);
  });
});

/** The `ws` package itself (under Bun, `import "ws"` is Bun's stand-in): it sends the Origin it is given. */
const WebSocket = createRequire(import.meta.url)("../../node_modules/ws/index.js") as typeof WsWebSocket;

/** Opens a WebSocket as a browser on `origin` would (or a non-browser client, without one): the handshake's status. */
function handshake(url: string, origin?: string, protocols: string[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url.replace(/^http/, "ws"), protocols, origin ? { origin } : {});
    socket.on("open", () => {
      socket.close();
      resolve(101);
    });
    socket.on("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.on("error", reject);
  });
}

describe("WebSockets from browser pages (no CORS check guards them)", () => {
  test("a page on another origin may not open one to a gateway without authentication (403); server.cors's origins and non-browser clients may", async () => {
    expect(await handshake(gw.base(), OTHER)).toBe(403);
    expect(await handshake(gw.base(), APP)).toBe(101);
    expect(await handshake(gw.base())).toBe(101);
  });

  test("a page on the gateway's own origin may, and on any origin when the gateway wants a token (the page must hold one)", async () => {
    expect(await handshake(gw.base(), gw.url)).toBe(101);
    expect(await handshake(gw.base("locked"), OTHER, ["cf-aig-authorization.sb-cors-token-0123456789abcdef"])).toBe(101);
    expect(await handshake(gw.base("locked"), OTHER)).toBe(401);
  });
});
