import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { definePlugin, type RequestRecord } from "switchboard";
import pkg from "../package.json" with { type: "json" };
import { ErrorCode } from "../src/pipeline/errors.ts";
import { BUN, MAIN, run, startServe, tempFolder } from "./support/cli.ts";
import { expectGatewayError } from "./support/gateway-error.ts";
import { MOCK_REPLY, expectedUsage, startMockUpstream } from "./support/mock-upstream.ts";
import { gatewayWithMock, replyText } from "./support/with-mock.ts";

const chat = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] };
const post = (headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers },
  body: JSON.stringify(chat),
});

/** A gateway.config.ts whose body is `fields` inside `defineConfig({ … })`. */
const configFile = (fields: string, imports = "") => `import { defineConfig } from "switchboard";
${imports}
export default defineConfig({
${fields}
});
`;

describe("switchboard check", () => {
  test("a valid config, with a user plugin beside it, exits 0 and summarises it", async () => {
    using dir = tempFolder({
      "gateway.config.ts": configFile(
        `  accountId: "local",
  server: { port: 9999, maxBodyBytes: 2048 },
  storage: { sqlite: "./data/x.db" },
  providers: { openai: { baseUrl: "http://127.0.0.1:1/v1" }, "custom-local": { baseUrl: "http://127.0.0.1:11434/v1" } },
  gateways: { prod: { logs: { collect: true, payloads: false, maxRows: 1000 } } },
  plugins: ["logging", stamp],`,
        `import stamp from "./plugins/stamp.ts";`,
      ),
      "plugins/stamp.ts": `import { definePlugin } from "switchboard";
export default definePlugin({ name: "stamp", handle: (ctx, next) => next() });
`,
    });

    const result = await run([BUN, MAIN, "check", "--config", join(dir.path, "gateway.config.ts")]);

    expect({ code: result.exitCode, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stdout).toContain("is valid");
    expect(result.stdout).toContain("default, prod");
    expect(result.stdout).toContain("logging → stamp");
  });

  const invalid: [string, string, string[]][] = [
    ["a misspelt key", `  gateways: { prod: { logz: { collect: false } } },`, ["gateways.prod.logz"]],
    ["a value of the wrong type", `  server: { port: "x" },`, ["server.port", "integer", `"x"`]],
    ["an unknown built-in plugin", `  plugins: ["logging", "cachez"],`, ["plugins.1", "cachez"]],
    ["an unknown provider", `  providers: { openaai: { baseUrl: "http://127.0.0.1:1" } },`, ["providers.openaai", "openai"]],
    ["a plugin object with no hook", `  plugins: [{ name: "empty" }],`, ["plugins.0", "empty"]],
    ["a model route to an unknown provider", `  routes: { support: { strategy: "fallback", targets: [{ model: "nope/x" }] } },`, ["routes.support.targets[0].model", "nope"]],
  ];
  for (const [what, fields, mentions] of invalid) {
    test(`${what} exits non-zero naming the path`, async () => {
      using dir = tempFolder({ "gateway.config.ts": configFile(fields) });

      const result = await run([BUN, MAIN, "check", "--config", join(dir.path, "gateway.config.ts")]);

      expect(result.exitCode).not.toBe(0);
      for (const mention of mentions) expect(result.stderr).toContain(mention);
    });
  }

  test("a config file that does not exist is an error naming it", async () => {
    using dir = tempFolder();

    const result = await run([BUN, MAIN, "check", "--config", "missing.config.ts"], { cwd: dir.path });

    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain("missing.config.ts");
  });
});

describe("switchboard serve", () => {
  test("with a bad config it exits non-zero without listening", async () => {
    using dir = tempFolder({ "gateway.config.ts": configFile(`  gateways: { prod: { logz: {} } },`) });

    const result = await run([BUN, MAIN, "serve", "--config", join(dir.path, "gateway.config.ts"), "--port", "0"]);

    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).not.toContain("listening");
    expect(result.stderr).toContain("gateways.prod.logz");
  });

  test("on a port another gateway holds it exits non-zero instead of sharing the port", async () => {
    using first = tempFolder();
    using second = tempFolder();
    await using running = await startServe([BUN, MAIN, "serve", "--port", "0"], { cwd: first.path });
    const port = new URL(running.url).port;

    const result = await run([BUN, MAIN, "serve", "--port", port], { cwd: second.path });

    expect(result.exitCode).toBe(1);
    expect(result.stdout).not.toContain("listening");
    expect(result.stderr).toContain(port);
  });

  test("without any config it serves the built-in default and stops cleanly on SIGTERM", async () => {
    using dir = tempFolder();
    await using server = await startServe([BUN, MAIN, "serve", "--port", "0"], { cwd: dir.path });
    const base = `${server.url}/v1/local`;

    const health = await fetch(`${server.url}/health`);
    const unknownProvider = await fetch(`${base}/default/not-a-provider/v1/x`, post());
    const unknownGateway = await fetch(`${base}/prod/openai/chat/completions`, post());
    // Reaches the end of the chain without leaving the machine: the timeout header is read just before the upstream call.
    const badHeader = await fetch(`${base}/default/openai/chat/completions`, post({ "cf-aig-request-timeout": "soon", "cf-aig-event-id": "default-config" }));

    expect(await health.json()).toMatchObject({ status: "ok", faults: [] });
    expect(await expectGatewayError(unknownProvider, 400, ErrorCode.UnknownProvider)).toContain("workers-ai");
    await expectGatewayError(unknownGateway, 404, ErrorCode.UnknownGateway);
    expect(await expectGatewayError(badHeader, 400, ErrorCode.InvalidHeader)).toContain("cf-aig-request-timeout");
    expect(await server.terminate()).toBe(0);
    expect(server.output().stdout).toContain("built-in default");
    const file = join(dir.path, "data/switchboard.db");
    expect(existsSync(file)).toBe(true);
    using db = new Database(file, { readonly: true });
    expect(db.query("SELECT gateway_id, provider, status_code, error_code, event_id FROM logs").all()).toEqual([
      { gateway_id: "default", provider: "openai", status_code: 400, error_code: ErrorCode.InvalidHeader, event_id: "default-config" },
    ]);
  });

  test("a plugin file beside the config short-circuits, and one that throws fails only its request", async () => {
    await using upstream = await startMockUpstream();
    using dir = tempFolder({
      "gateway.config.ts": configFile(
        `  storage: { sqlite: "./gateway.db" },
  providers: { openai: { baseUrl: "${upstream.url}/v1" } },
  plugins: [requireUser, "logging"],`,
        `import requireUser from "./require-user.ts";`,
      ),
      "require-user.ts": `import { definePlugin } from "switchboard";
export default definePlugin({
  name: "require-user",
  async handle(ctx, next) {
    if (ctx.headers.get("x-action") === "explode") throw new Error("kaboom");
    if (!ctx.headers.get("x-user")) return ctx.error(400, 2200, "an x-user header is required");
    return next();
  },
});
`,
    });
    await using server = await startServe([BUN, MAIN, "serve", "--config", join(dir.path, "gateway.config.ts"), "--port", "0"], { cwd: dir.path });
    const url = `${server.url}/v1/local/default/openai/chat/completions`;

    const refused = await fetch(url, post());
    const exploded = await fetch(url, post({ "x-user": "ada", "x-action": "explode" }));
    const served = await fetch(url, post({ "x-user": "ada" }));

    expect(await expectGatewayError(refused, 400, 2200)).toBe("an x-user header is required");
    const failure = await expectGatewayError(exploded, 500, ErrorCode.PluginFailed);
    expect(failure).toContain("require-user");
    expect(failure).toContain("kaboom");
    expect(served.status).toBe(200);
    expect(await replyText(served)).toBe(MOCK_REPLY);
    expect(upstream.requests).toHaveLength(1);
    expect(server.output().stdout).toContain("require-user → logging");
    expect(await server.terminate()).toBe(0);
  });
});

describe("switchboard --version and --help", () => {
  test("--version prints the package version and the commit", async () => {
    const result = await run([BUN, MAIN, "--version"]);

    expect(result.exitCode).toBe(0);
    expect(result.stdout.trim()).toMatch(new RegExp(`^switchboard ${pkg.version.replaceAll(".", "\\.")} \\(([0-9a-f]{7,40}|unknown)\\)$`));
  });

  test("--help lists the commands", async () => {
    const result = await run([BUN, MAIN, "--help"]);

    expect(result.exitCode).toBe(0);
    for (const word of ["Usage", "serve", "init", "check", "--config", "--port", "--version"]) expect(result.stdout).toContain(word);
  });
});

describe("plugin objects in the chain", () => {
  test("handle sees the request through ctx; onComplete gets the finished record", async () => {
    const seen: Record<string, unknown>[] = [];
    const records: RequestRecord[] = [];
    const observer = definePlugin({
      name: "observer",
      handle(ctx, next) {
        seen.push({ gatewayId: ctx.gatewayId, provider: ctx.provider, header: ctx.headers.get("x-team"), metadata: ctx.metadata, model: ctx.model });
        return next();
      },
      onComplete(record) {
        records.push(record);
      },
    });
    await using t = await gatewayWithMock({ gateways: { prod: {} }, plugins: [observer, "logging"] });

    const res = await fetch(`${t.gw.base("prod")}/openai/chat/completions`, post({ "x-team": "search" }));
    await res.arrayBuffer();
    await t.gw.settle();

    expect(seen).toEqual([{ gatewayId: "prod", provider: "openai", header: "search", metadata: {}, model: "gpt-4o-mini" }]);
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record).toMatchObject({
      logId: res.headers.get("cf-aig-log-id")!,
      gatewayId: "prod",
      status: 200,
      success: true,
      provider: "openai",
      model: "gpt-4o-mini",
      path: "chat/completions",
      usage: { tokensIn: expectedUsage(chat).promptTokens, tokensOut: expectedUsage(chat).completionTokens },
    });
    expect(record.durationMs).toBeGreaterThan(0);
  });

  test("a short-circuit answers without the provider and is still recorded", async () => {
    const records: RequestRecord[] = [];
    const gate = definePlugin({
      name: "gate",
      handle: (ctx, next) => (ctx.headers.get("x-user") ? next() : ctx.error(400, 2200, "cf-aig-metadata must carry a user")),
      onComplete: (record) => void records.push(record),
    });
    await using t = await gatewayWithMock({ plugins: [gate, "logging"] });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post());

    expect(await expectGatewayError(res, 400, 2200)).toBe("cf-aig-metadata must carry a user");
    expect(t.upstream.requests).toEqual([]);
    expect(await t.log(res)).toMatchObject({ status_code: 400, success: false, error_code: 2200 });
    expect(records.map((r) => ({ logId: r.logId, status: r.status, error: r.error }))).toEqual([
      { logId: res.headers.get("cf-aig-log-id")!, status: 400, error: { code: 2200, message: "cf-aig-metadata must carry a user" } },
    ]);
  });

  test("plugins wrap each other in config order, and response headers they add reach the client", async () => {
    const order: string[] = [];
    const layer = (name: string) =>
      definePlugin({
        name,
        async handle(ctx, next) {
          order.push(`${name}:before`);
          ctx.responseHeaders.set(`x-${name}`, "was-here");
          const response = await next();
          order.push(`${name}:after ${response.status}`);
          return response;
        },
      });
    await using t = await gatewayWithMock({ plugins: [layer("outer"), layer("inner"), "logging"] });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post());

    expect(res.status).toBe(200);
    expect(order).toEqual(["outer:before", "inner:before", "inner:after 200", "outer:after 200"]);
    expect([res.headers.get("x-outer"), res.headers.get("x-inner")]).toEqual(["was-here", "was-here"]);
  });

  test("a header a plugin adds replaces the provider's of that name; every set-cookie it appends reaches the client", async () => {
    const cookies = definePlugin({
      name: "cookies",
      handle(ctx, next) {
        ctx.responseHeaders.append("set-cookie", "a=1");
        ctx.responseHeaders.append("set-cookie", "b=2");
        ctx.responseHeaders.set("content-type", "application/json; charset=plugin");
        return next();
      },
    });
    await using t = await gatewayWithMock({ plugins: [cookies, "logging"] });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post());
    await res.arrayBuffer();

    expect(res.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(res.headers.get("content-type")).toBe("application/json; charset=plugin");
  });

  test("a plugin that throws fails that request with 500/2120 naming it; the next request is served", async () => {
    let calls = 0;
    const flaky = definePlugin({
      name: "flaky",
      handle(_ctx, next) {
        if (calls++ === 0) throw new TypeError("cannot read properties of undefined");
        return next();
      },
    });
    await using t = await gatewayWithMock({ plugins: [flaky, "logging"] });

    const failed = await fetch(`${t.gw.base()}/openai/chat/completions`, post());
    const next = await fetch(`${t.gw.base()}/openai/chat/completions`, post());

    const message = await expectGatewayError(failed, 500, ErrorCode.PluginFailed);
    expect(message).toContain(`"flaky"`);
    expect(message).toContain("cannot read properties of undefined");
    expect(next.status).toBe(200);
    expect(t.upstream.requests).toHaveLength(1);
    expect(await t.log(failed)).toMatchObject({ status_code: 500, success: false, error_code: ErrorCode.PluginFailed });
  });

  test("a plugin that calls next() twice fails with 500/2120 naming it", async () => {
    const twice = definePlugin({
      name: "twice",
      async handle(_ctx, next) {
        await next();
        return next();
      },
    });
    await using t = await gatewayWithMock({ plugins: [twice, "logging"] });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post());

    const message = await expectGatewayError(res, 500, ErrorCode.PluginFailed);
    expect(message).toContain(`"twice"`);
    expect(message).toContain("next()");
  });

  test("a plugin that returns something other than a Response fails with 500/2120 naming it", async () => {
    const wrong = definePlugin({ name: "wrong", handle: () => ({ status: 200 }) as unknown as Response });
    await using t = await gatewayWithMock({ plugins: [wrong, "logging"] });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post());

    expect(await expectGatewayError(res, 500, ErrorCode.PluginFailed)).toContain(`"wrong"`);
    expect(t.upstream.requests).toEqual([]);
  });

  test("an onComplete that throws never reaches the client or the other plugins", async () => {
    const broken = definePlugin({
      name: "broken-complete",
      onComplete() {
        throw new Error("onComplete exploded");
      },
    });
    await using t = await gatewayWithMock({ plugins: [broken, "logging"] });

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post());

    expect(res.status).toBe(200);
    expect(await replyText(res)).toBe(MOCK_REPLY);
    expect(await t.log(res)).toMatchObject({ status_code: 200, success: true });
  });
});
