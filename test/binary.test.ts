import { Database } from "bun:sqlite";
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { builtBinary } from "./support/binary.ts";
import { run, startServe, tempFolder } from "./support/cli.ts";
import { expectGatewayError } from "./support/gateway-error.ts";
import { MOCK_REPLY, startMockUpstream } from "./support/mock-upstream.ts";
import { replyText } from "./support/with-mock.ts";

let BINARY = "";

beforeAll(async () => {
  BINARY = await builtBinary();
}, 120_000);

describe("the compiled binary", () => {
  test("--version prints the package version and the commit", async () => {
    const result = await run([BINARY, "--version"]);

    expect(result.exitCode).toBe(0);
    expect(result.stdout.trim()).toMatch(new RegExp(`^switchboard ${pkg.version.replaceAll(".", "\\.")} \\(([0-9a-f]{7,40}|unknown)\\)$`));
  });

  test("runs from a folder holding only a config and a .ts plugin, proxies, applies the plugin, and keeps the log across SIGTERM", async () => {
    expect(existsSync(BINARY)).toBe(true);
    await using upstream = await startMockUpstream();
    using dir = tempFolder({
      "gateway.config.ts": `import { defineConfig } from "switchboard";
import stamp from "./plugins/stamp.ts";

export default defineConfig({
  storage: { sqlite: "./data/gateway.db" },
  providers: { openai: { baseUrl: "${upstream.url}/v1" } },
  plugins: [stamp, "logging"],
});
`,
      "plugins/stamp.ts": `import { definePlugin } from "switchboard";

export default definePlugin({
  name: "stamp",
  async handle(ctx, next) {
    if (ctx.headers.get("x-block") === "1") return ctx.error(403, 2200, "blocked by the stamp plugin");
    ctx.responseHeaders.set("x-stamped-by", \`stamp on \${ctx.gatewayId}/\${ctx.provider}\`);
    return next();
  },
});
`,
    });
    await using server = await startServe([BINARY, "serve", "--config", join(dir.path, "gateway.config.ts"), "--port", "0"], { cwd: dir.path });
    const url = `${server.url}/v1/local/default/openai/chat/completions`;
    const init = (headers: Record<string, string> = {}): RequestInit => ({
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi from the binary" }] }),
    });

    const served = await fetch(url, init());
    const blocked = await fetch(url, init({ "x-block": "1" }));

    expect(served.status).toBe(200);
    expect(served.headers.get("x-stamped-by")).toBe("stamp on default/openai");
    expect(await replyText(served)).toBe(MOCK_REPLY);
    expect(await expectGatewayError(blocked, 403, 2200)).toBe("blocked by the stamp plugin");
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.lastRequest()).toMatchObject({ path: "/v1/chat/completions", headers: { authorization: "Bearer sk-client" } });
    expect(server.output().stdout).toContain("stamp → logging");
    // The log writer thread is an extra entrypoint of the build; without it the binary still logs, on the request thread, and says so.
    expect(server.output().stderr).not.toContain("log writer");

    expect(await server.terminate()).toBe(0);
    using db = new Database(join(dir.path, "data/gateway.db"), { readonly: true });
    const rows = db.query<{ id: string; status_code: number; model: string; error_code: number | null }, []>("SELECT id, status_code, model, error_code FROM logs ORDER BY status_code").all();
    expect(rows).toEqual([
      { id: served.headers.get("cf-aig-log-id")!, status_code: 200, model: "gpt-4o-mini", error_code: null },
      { id: blocked.headers.get("cf-aig-log-id")!, status_code: 403, model: "gpt-4o-mini", error_code: 2200 },
    ]);
  });
});
