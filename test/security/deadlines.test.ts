import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { resolveGateway } from "../../src/config/defaults.ts";
import { compose } from "../../src/pipeline/compose.ts";
import { RequestContext } from "../../src/pipeline/context.ts";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { definePlugin } from "../../src/sdk.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { silentProvider } from "../support/silent-provider.ts";
import { gatewayWithMock } from "../support/with-mock.ts";

const chat = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] });
const post = (headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers },
  body: chat,
});

/** The chat request to `provider` written on a raw socket, so the test can close it whenever it likes. */
function postOverSocket(gatewayUrl: string, provider: string) {
  const { hostname, port } = new URL(gatewayUrl);
  const socket = connect(Number(port), hostname);
  socket.on("error", () => {});
  socket.write(
    [`POST /v1/local/default/${provider}/chat/completions HTTP/1.1`, `Host: ${hostname}`, "Content-Type: application/json", `Content-Length: ${chat.length}`, "", chat].join("\r\n"),
  );
  return socket;
}

describe("a client that leaves", () => {
  test("before the response headers aborts the upstream call, and the record says aborted, not success", async () => {
    using provider = silentProvider();
    await using t = await gatewayWithMock({ providers: { "custom-silent": { baseUrl: provider.baseUrl } } });
    const socket = postOverSocket(t.gw.url, "custom-silent");

    await provider.arrived;
    socket.destroy();
    await provider.aborted;

    const [log] = await t.logs();
    expect(log).toMatchObject({ provider: "custom-silent", success: false, aborted: true, error_code: ErrorCode.ClientClosed });
  });

  test("just before a quick answer (no deadline sweep in between) is still recorded as aborted, not success", async () => {
    // The gateway follows the client's signal from the first sweep on (≤ 25 ms); an answer complete
    // before then asks the signal once. The provider answers as soon as the client's socket is closed.
    const arrived = Promise.withResolvers<void>();
    const answer = Promise.withResolvers<Response>();
    const provider = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch() {
        arrived.resolve();
        return answer.promise;
      },
    });
    try {
      await using t = await gatewayWithMock({ providers: { "custom-held": { baseUrl: `http://127.0.0.1:${provider.port}/v1` } } });
      const socket = postOverSocket(t.gw.url, "custom-held");
      await arrived.promise;
      const closed = new Promise((resolve) => socket.on("close", resolve));
      socket.destroy();
      await closed;
      answer.resolve(Response.json({ id: "x", choices: [] }));

      const [log] = await t.logs();
      // The provider did answer (its status and usage are kept: it was paid for); nobody took the answer.
      expect(log).toMatchObject({ provider: "custom-held", status_code: 200, success: false, aborted: true, error_code: ErrorCode.ClientClosed });
    } finally {
      provider.stop(true);
    }
  });
});

describe("time limits", () => {
  test("a silent provider is answered with 504/2111 after server.requestTimeout, the call is closed and the request recorded", async () => {
    using provider = silentProvider();
    await using t = await gatewayWithMock({ server: { requestTimeout: 100 }, providers: { "custom-silent": { baseUrl: provider.baseUrl } } });

    const res = await fetch(`${t.gw.base()}/custom-silent/chat/completions`, post());

    expect(await expectGatewayError(res, 504, ErrorCode.UpstreamTimeout)).toContain("100 ms");
    await provider.aborted;
    expect(await t.log(res)).toMatchObject({ success: false, status_code: 504, error_code: ErrorCode.UpstreamTimeout });
  });

  test("the default first-byte limit is documented as 300 s and a gateway's requestTimeout wins over it", async () => {
    await using t = await gatewayWithMock({ gateways: { quick: { requestTimeout: 50 } } });
    expect(t.gw.running.handle.config.gateways.get("default")!.requestTimeout).toBe(300_000);

    const res = await fetch(`${t.gw.base("quick")}/openai/chat/completions`, post({ "x-mock-delay": "2000" }));

    await expectGatewayError(res, 504, ErrorCode.UpstreamTimeout);
  });

  test("a plugin that never settles fails its request with 500/2122 naming it; nothing goes upstream and the request is recorded", async () => {
    const stuck = definePlugin({ name: "stuck", handle: () => new Promise<Response>(() => {}) });
    await using t = await gatewayWithMock({ server: { pluginTimeout: 100 }, plugins: ["logging", stuck] });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post());

    expect(await expectGatewayError(res, 500, ErrorCode.PluginTimeout)).toContain('Plugin "stuck"');
    expect(t.upstream.requests).toEqual([]);
    expect(await t.log(res)).toMatchObject({ success: false, status_code: 500, error_code: ErrorCode.PluginTimeout });
  });

  test("time spent waiting in next() does not count against a plugin; its own time after next() does", async () => {
    const patient = definePlugin({ name: "patient", timeout: 100, handle: (_ctx, next) => next() });
    const slowAfter = definePlugin({
      name: "slow-after",
      timeout: 100,
      async handle(_ctx, next) {
        const response = await next();
        await new Promise<void>(() => {});
        return response;
      },
    });
    await using t = await gatewayWithMock({ plugins: ["logging", patient] });
    await using u = await gatewayWithMock({ plugins: ["logging", slowAfter] });

    const slowUpstream = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ "x-mock-delay": "300" }));
    const stuckAfter = await fetch(`${u.gw.base()}/openai/chat/completions`, post());

    expect(slowUpstream.status).toBe(200);
    expect(await expectGatewayError(stuckAfter, 500, ErrorCode.PluginTimeout)).toContain('Plugin "slow-after"');
  });

  test("server.pluginTimeouts sets one plugin's limit by name, over its own", async () => {
    const slow = definePlugin({
      name: "slow",
      timeout: 10_000,
      handle: async (_ctx, next) => {
        await Bun.sleep(200);
        return next();
      },
    });
    await using t = await gatewayWithMock({ server: { pluginTimeouts: { slow: 50 } }, plugins: ["logging", slow] });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post());

    expect(await expectGatewayError(res, 500, ErrorCode.PluginTimeout)).toContain("50 ms");
  });

  test("a plugin that calls next() after its time limit reaches no provider", async () => {
    const { promise: late, resolve: lateDone } = Promise.withResolvers<unknown>();
    const tardy = definePlugin({
      name: "tardy",
      timeout: 50,
      async handle(_ctx, next) {
        await Bun.sleep(150);
        return next().then(
          (response) => (lateDone("reached"), response),
          (error) => (lateDone(error), Promise.reject(error)),
        );
      },
    });
    await using t = await gatewayWithMock({ plugins: ["logging", tardy] });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post());

    await expectGatewayError(res, 500, ErrorCode.PluginTimeout);
    expect(await late).toMatchObject({ code: ErrorCode.PluginTimeout });
    expect(t.upstream.requests).toEqual([]);
  });
});

describe("failures are not blamed on the wrong plugin", () => {
  test("a failure of the upstream call itself is a 500/2121, not the innermost plugin's 2120", async () => {
    const passThrough = definePlugin({ name: "pass-through", handle: (_ctx, next) => next() });
    const chain = compose([passThrough]);
    const ctx = new RequestContext({ gateway: resolveGateway("default"), accountId: "local", requestType: "provider", headers: new Headers(), steps: [], clientAddress: null });

    const failure = await chain(ctx, () => Promise.reject(new TypeError("fetch() URL is invalid: http://x/?key=secret"))).catch((error) => error);

    expect(failure).toMatchObject({ status: 500, code: ErrorCode.Internal });
    expect(failure.message).not.toContain("pass-through");
    expect(failure.message).not.toContain("secret");
  });
});
