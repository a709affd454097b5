import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { ExpiryError, parseExpiry } from "../../src/store/tokens.ts";
import { BUN, MAIN, run } from "../support/cli.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";

const CONFIG_FILE = `import { defineConfig } from "switchboard";
export default defineConfig({
  storage: { sqlite: "./switchboard.db" },
  gateways: { g: { authentication: true }, h: { authentication: true } },
});
`;
const TOKEN = /\bsb_[A-Za-z0-9_-]{43}\b/;
const ID = /\btok_[0-9A-Z]{26}\b/;

let t: GatewayWithMock;
let config: string;

// The gateway runs in this process on the same SQLite file the CLI writes, as a server would while
// an operator runs `switchboard tokens` next to it.
beforeAll(async () => {
  t = await gatewayWithMock({ gateways: { g: { authentication: true }, h: { authentication: true } }, plugins: ["auth", "logging"] });
  config = join(t.gw.dir, "gateway.config.ts");
  await Bun.write(config, CONFIG_FILE);
});
afterAll(() => t[Symbol.asyncDispose]());

const tokens = (...args: string[]) => run([BUN, MAIN, "tokens", ...args, "--config", config]);

function call(gateway: string, token: string): Promise<Response> {
  return fetch(`${t.gw.base(gateway)}/openai/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test", "cf-aig-authorization": `Bearer ${token}` },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  });
}

describe("switchboard tokens", () => {
  test("create prints a token once that the running gateway accepts; list hides it; revoke stops it", async () => {
    const made = await tokens("create", "--gateway", "g", "--name", "ci", "--expires", "30d");
    expect(made.exitCode).toBe(0);
    const token = TOKEN.exec(made.stdout)![0];
    const id = ID.exec(made.stdout)![0];
    expect(made.stdout).toContain(`cf-aig-authorization: Bearer ${token}`);

    const ok = await call("g", token);
    expect(ok.status).toBe(200);
    expect((await t.log(ok, "g"))?.token_id).toBe(id);
    await expectGatewayError(await call("h", token), 401, ErrorCode.Unauthorized);

    const listed = await tokens("list", "--gateway", "g");
    expect(listed.exitCode).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+g\\s+ci\\s+\\S+\\s+\\S+\\s+active`));
    expect(listed.stdout).not.toContain(token);
    const json = await tokens("list", "--json");
    expect(JSON.parse(json.stdout)).toContainEqual({ id, gateway: "g", name: "ci", created_at: expect.any(String), expires_at: expect.any(String), status: "active" });

    const revoked = await tokens("revoke", id);
    expect(revoked.exitCode).toBe(0);
    await expectGatewayError(await call("g", token), 401, ErrorCode.Unauthorized);
    expect((await tokens("list", "--gateway", "g")).stdout).toMatch(new RegExp(`${id}.*revoked`));
  });

  test("create --json prints the token with its id and expiry", async () => {
    const made = await tokens("create", "--gateway", "h", "--expires", "2099-01-01", "--json");
    expect(made.exitCode).toBe(0);
    const body = JSON.parse(made.stdout) as { token: string; id: string; expires_at: string };
    expect(body).toMatchObject({ gateway: "h", name: null, expires_at: "2099-01-01T00:00:00.000Z", status: "active" });
    expect((await call("h", body.token)).status).toBe(200);
  });

  test.each([
    ["a bad --expires unit", ["create", "--gateway", "g", "--expires", "30x"], "--expires"],
    ["a zero --expires", ["create", "--gateway", "g", "--expires", "0d"], "--expires"],
    ["an --expires date in the past", ["create", "--gateway", "g", "--expires", "2020-01-01"], "in the past"],
    ["--expires without a value", ["create", "--gateway", "g", "--expires"], "--expires needs a value"],
    ["no --gateway", ["create"], "--gateway"],
    ["an unknown gateway", ["create", "--gateway", "nope"], 'Gateway "nope" is not in'],
    ["a misspelt flag", ["create", "--gateway", "g", "--expire", "30d"], "--expire"],
    ["an unknown action", ["rotate"], "create, list or revoke"],
    ["revoke without an id", ["revoke"], "exactly one token id"],
    ["revoke of an unknown id", ["revoke", "tok_unknown"], 'No token with id "tok_unknown"'],
  ])("%s exits non-zero and says why", async (_, args, says) => {
    const result = await tokens(...args);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(says);
    expect(result.stdout).not.toMatch(TOKEN);
  });
});

describe("--expires syntax", () => {
  const now = Date.UTC(2026, 0, 1);
  test("durations in minutes, hours, days and weeks, and ISO dates", () => {
    expect(["90m", "12h", "30d", "4w", "2026-02-01", "2026-01-01T12:00:00Z"].map((text) => parseExpiry(text, now) - now)).toEqual([
      90 * 60_000,
      12 * 3_600_000,
      30 * 86_400_000,
      28 * 86_400_000,
      31 * 86_400_000,
      12 * 3_600_000,
    ]);
  });

  test.each(["", "30", "d", "-1d", "1.5d", "30 days", "tomorrow", "2026-13-01", "2026-02-30", "2026-06-01T25:00", "2025-12-31", "1y"])("refuses %p", (text) => {
    expect(() => parseExpiry(text, now)).toThrow(ExpiryError);
  });
});
