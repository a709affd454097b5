import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import type { TokenStore } from "../../src/store/tokens.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";

const ADMIN = "admin-token-for-auth-tests";
const PLAIN = "plain-config-token-0123456789";
const CI = "ci-config-token-abcdefghijklmnop";
const BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });

let t: GatewayWithMock;
let tokens: TokenStore;

beforeAll(async () => {
  t = await gatewayWithMock({
    server: { adminToken: ADMIN },
    gateways: {
      locked: { authentication: true, tokens: [PLAIN, { name: "ci", token: CI }] },
      other: { authentication: true },
      open: { authentication: false },
    },
    plugins: ["auth", "logging"],
  });
  tokens = t.gw.running.handle.stores.tokens;
});
afterAll(() => t[Symbol.asyncDispose]());
beforeEach(() => t.upstream.reset());

/** A chat completion through `gateway`, with the provider key and, when given, `cf-aig-authorization`. */
function call(gateway: string, authorization?: string): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json", authorization: "Bearer sk-test" };
  if (authorization !== undefined) headers["cf-aig-authorization"] = authorization;
  return fetch(`${t.gw.base(gateway)}/openai/chat/completions`, { method: "POST", headers, body: BODY });
}

function admin(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${ADMIN}`);
  return fetch(`${t.gw.url}/client/v4/accounts/local/ai-gateway/gateways/${path}`, { ...init, headers });
}

async function expectPassed(response: Response): Promise<void> {
  expect(response.status).toBe(200);
  expect(((await response.json()) as { object: string }).object).toBe("chat.completion");
  expect(t.upstream.requests).toHaveLength(1);
}

async function expectRefused(response: Response): Promise<string> {
  const message = await expectGatewayError(response, 401, ErrorCode.Unauthorized);
  expect(t.upstream.requests).toHaveLength(0);
  return message;
}

describe("the behaviour table of reference §5", () => {
  test("authentication on, valid token: the request goes upstream without cf-aig-authorization", async () => {
    const { token } = await tokens.create({ gatewayId: "locked" });
    await expectPassed(await call("locked", `Bearer ${token}`));
    const received = t.upstream.lastRequest()!;
    expect(received.headers["cf-aig-authorization"]).toBeUndefined();
    expect(received.headers.authorization).toBe("Bearer sk-test");
    expect(JSON.stringify(received)).not.toContain(token);
  });

  test("authentication on, no header: 401/2009 that says which header to send", async () => {
    const message = await expectRefused(await call("locked"));
    expect(message).toContain("cf-aig-authorization: Bearer <token>");
  });

  test("authentication off, a wrong header: ignored, the request goes upstream", async () => {
    await expectPassed(await call("open", "Bearer not-a-token-at-all"));
    expect(t.upstream.lastRequest()!.headers["cf-aig-authorization"]).toBeUndefined();
  });

  test("authentication off, no header: the request goes upstream", async () => {
    await expectPassed(await call("open"));
  });
});

describe("refusals", () => {
  test.each([
    ["an unknown token", "Bearer sb_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ["a config token with one character changed", `Bearer ${PLAIN.slice(0, -1)}X`],
    ["no scheme", PLAIN],
    ["another scheme", `Basic ${PLAIN}`],
    ["a scheme without a token", "Bearer "],
    ["two words after Bearer", `Bearer ${PLAIN} extra`],
  ])("%s gets 401/2009", async (_, header) => {
    await expectRefused(await call("locked", header));
  });

  test("an expired token gets 401/2009", async () => {
    const { token } = await tokens.create({ gatewayId: "locked", expiresAt: Date.now() - 1000 });
    await expectRefused(await call("locked", `Bearer ${token}`));
  });

  test("a revoked token works until it is revoked, then gets 401/2009", async () => {
    const { token, info } = await tokens.create({ gatewayId: "locked" });
    await expectPassed(await call("locked", `Bearer ${token}`));
    t.upstream.reset();
    expect(await tokens.revoke(info.id)).toBe(true);
    await expectRefused(await call("locked", `Bearer ${token}`));
  });

  test("a token of one gateway is refused by another, with the same answer as an unknown token", async () => {
    const { token } = await tokens.create({ gatewayId: "other" });
    const foreign = await expectRefused(await call("locked", `Bearer ${token}`));
    const unknown = await expectRefused(await call("locked", "Bearer sb_unknown-token"));
    expect(foreign).toBe(unknown);
    // Config tokens are per gateway too.
    await expectRefused(await call("other", `Bearer ${PLAIN}`));
  });

  test("a gateway token sent as Authorization instead of cf-aig-authorization gets a hint", async () => {
    const { token } = await tokens.create({ gatewayId: "locked" });
    const response = await fetch(`${t.gw.base("locked")}/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: BODY,
    });
    expect(await expectRefused(response)).toContain("the gateway token goes in cf-aig-authorization");
  });
});

describe("config tokens", () => {
  test("a plain and a named config token both pass, and the log names them by id", async () => {
    const plain = await call("locked", `Bearer ${PLAIN}`);
    await expectPassed(plain);
    t.upstream.reset();
    const named = await call("locked", `bearer  ${CI}`);
    await expectPassed(named);
    expect((await t.log(plain, "locked"))?.token_id).toBe("config:0");
    expect((await t.log(named, "locked"))?.token_id).toBe("config:ci");
  });
});

describe("logs", () => {
  test("a refused request is logged: success false, status 401, code 2009, no token id", async () => {
    const response = await call("locked", "Bearer sb_wrong");
    await expectRefused(response);
    expect(await t.log(response, "locked")).toMatchObject({ success: false, status_code: 401, error_code: ErrorCode.Unauthorized, token_id: null });
  });

  test("the log carries the token's id and the secret appears nowhere, not even in the database file", async () => {
    const { token, info } = await tokens.create({ gatewayId: "locked", name: "logged" });
    const response = await call("locked", `Bearer ${token}`);
    await expectPassed(response);
    const log = (await t.log(response, "locked"))!;
    expect(log.token_id).toBe(info.id);
    expect(JSON.parse(log.request_head)["cf-aig-authorization"]).toBe("[redacted]");
    expect(JSON.stringify(log)).not.toContain(token);
    const db = join(t.gw.dir, "switchboard.db");
    const bytes = Buffer.concat([db, `${db}-wal`].filter(existsSync).map((file) => readFileSync(file)));
    // The scan sees what was written: the log and the token row are there by id, the secret is not.
    expect(bytes.includes(log.id) && bytes.includes(info.id)).toBe(true);
    expect(bytes.includes(token)).toBe(false);
  });
});

describe("admin API", () => {
  test("a token made through the admin API works at once, is listed without its secret, and stops after DELETE", async () => {
    const made = await admin("locked/tokens", { method: "POST", body: JSON.stringify({ name: "from-admin", expires_in: "30d" }) });
    expect(made.status).toBe(200);
    expect(made.headers.get("cache-control")).toBe("no-store");
    const { result } = (await made.json()) as { result: { id: string; token: string; expires_at: string } };
    expect(result).toMatchObject({ gateway_id: "locked", name: "from-admin", status: "active", revoked_at: null });
    expect(Date.parse(result.expires_at) - Date.now()).toBeGreaterThan(29 * 86_400_000);

    await expectPassed(await call("locked", `Bearer ${result.token}`));
    t.upstream.reset();

    const listed = await (await admin("locked/tokens")).text();
    expect(listed).toContain(result.id);
    expect(listed).not.toContain(result.token);

    const deleted = await admin(`locked/tokens/${result.id}`, { method: "DELETE" });
    expect(await deleted.json()).toEqual({ success: true, errors: [], messages: [], result: { id: result.id } });
    await expectRefused(await call("locked", `Bearer ${result.token}`));
    const after = (await (await admin("locked/tokens")).json()) as { result: { id: string; status: string }[] };
    expect(after.result.find((token) => token.id === result.id)?.status).toBe("revoked");
  });

  test("DELETE of a token of another gateway is 404 and leaves it working", async () => {
    const { token, info } = await tokens.create({ gatewayId: "other" });
    const response = await admin(`locked/tokens/${info.id}`, { method: "DELETE" });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { internalCode: number }).internalCode).toBe(ErrorCode.TokenNotFound);
    await expectPassed(await call("other", `Bearer ${token}`));
  });

  test.each([
    ["malformed JSON", "{"],
    ["an unknown field", JSON.stringify({ expires: "30d" })],
    ["a bad duration", JSON.stringify({ expires_in: "30 days" })],
    ["a date in the past", JSON.stringify({ expires_at: "2020-01-01T00:00:00Z" })],
    ["both expiries", JSON.stringify({ expires_at: "2099-01-01", expires_in: "1d" })],
  ])("POST with %s is 400", async (_, body) => {
    const response = await admin("locked/tokens", { method: "POST", body });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { internalCode: number }).internalCode).toBe(ErrorCode.BadRequest);
  });

  test("tokens of an unknown gateway are 404/2001", async () => {
    const response = await admin("nope/tokens");
    expect(response.status).toBe(404);
    expect(((await response.json()) as { internalCode: number }).internalCode).toBe(ErrorCode.UnknownGateway);
  });

  test("the gateways endpoint reports authentication as configured", async () => {
    const read = async (id: string) => ((await (await admin(id)).json()) as { result: { authentication: boolean } }).result.authentication;
    expect({ locked: await read("locked"), open: await read("open"), default: await read("default") }).toEqual({
      locked: true,
      open: false,
      default: false,
    });
  });
});

describe("token store", () => {
  test("keeps only the SHA-256 of the secret and verifies by it, per gateway", async () => {
    const { token, info } = await tokens.create({ gatewayId: "locked", name: "stored" });
    expect(token).toMatch(/^sb_[A-Za-z0-9_-]{43}$/);
    expect(info).toEqual({ id: expect.stringMatching(/^tok_[0-9A-Z]{26}$/), gatewayId: "locked", name: "stored", createdAt: expect.any(Number), expiresAt: null, revokedAt: null });
    expect(await tokens.verify("locked", token)).toEqual(info);
    expect(await tokens.verify("other", token)).toBeNull();
    expect(await tokens.verify("locked", `${token}x`)).toBeNull();
    expect((await tokens.list("locked")).map((listed) => listed.id)).toContain(info.id);
    expect(JSON.stringify(await tokens.list())).not.toContain(token);
  });

  test("revoke is idempotent, scoped by gateway when asked, and false for an unknown id", async () => {
    const { info } = await tokens.create({ gatewayId: "locked" });
    expect(await tokens.revoke(info.id, "other")).toBe(false);
    expect(await tokens.revoke(info.id, "locked")).toBe(true);
    const first = (await tokens.list("locked")).find((listed) => listed.id === info.id)!.revokedAt;
    expect(await tokens.revoke(info.id)).toBe(true);
    expect((await tokens.list("locked")).find((listed) => listed.id === info.id)!.revokedAt).toBe(first);
    expect(await tokens.revoke("tok_unknown")).toBe(false);
  });
});
