import { expect, test } from "bun:test";
import type { TokenStore } from "../../src/store/tokens.ts";

/**
 * The `TokenStore` contract, run by token-store.test.ts against SQLite, PostgreSQL, and PostgreSQL
 * seen from two replicas (tokens made through one store, checked through another).
 */

export interface OpenedTokenStore extends AsyncDisposable {
  store: TokenStore;
  /** The stored `hash` column of every token, read over another connection: never a secret. */
  storedHashes(): Promise<string[]>;
}

const SECRET = /^sb_[A-Za-z0-9_-]{43}$/;
const ID = /^tok_[0-9A-Z]{26}$/;
const DAY = 86_400_000;

export function tokenStoreContract(open: () => Promise<OpenedTokenStore>): void {
  test("create answers the secret once and the stored description; verify finds it by the secret", async () => {
    await using s = await open();
    const before = Date.now();
    const { token, info } = await s.store.create({ gatewayId: "prod", name: "ci", expiresAt: before + 30 * DAY });
    expect(token).toMatch(SECRET);
    expect(info).toEqual({ id: expect.stringMatching(ID), gatewayId: "prod", name: "ci", createdAt: expect.any(Number), expiresAt: before + 30 * DAY, revokedAt: null });
    expect(info.createdAt).toBeGreaterThanOrEqual(before);
    expect(await s.store.verify("prod", token)).toEqual(info);
  });

  test("only the SHA-256 of the secret is stored", async () => {
    await using s = await open();
    const { token } = await s.store.create({ gatewayId: "prod" });
    const hashes = await s.storedHashes();
    expect(hashes).toEqual([new Bun.CryptoHasher("sha256").update(token).digest("hex")]);
    expect(JSON.stringify(await s.store.list())).not.toContain(token);
  });

  test("a token opens only its own gateway, and only with its exact secret", async () => {
    await using s = await open();
    const { token } = await s.store.create({ gatewayId: "prod" });
    expect(await s.store.verify("staging", token)).toBeNull();
    expect(await s.store.verify("prod", `${token}x`)).toBeNull();
    expect(await s.store.verify("prod", token.slice(0, -1))).toBeNull();
    expect(await s.store.verify("prod", "")).toBeNull();
  });

  test("an expired token no longer verifies; `now` decides", async () => {
    await using s = await open();
    const expiresAt = Date.now() + 60_000;
    const { token, info } = await s.store.create({ gatewayId: "prod", expiresAt });
    expect(await s.store.verify("prod", token, expiresAt - 1)).toEqual(info);
    expect(await s.store.verify("prod", token, expiresAt)).toBeNull();
    const forever = await s.store.create({ gatewayId: "prod", expiresAt: null });
    expect((await s.store.verify("prod", forever.token, Date.now() + 100 * 365 * DAY))?.expiresAt).toBeNull();
  });

  test("revoke stops a token at once, keeps its first revocation time, and answers false for unknown ids", async () => {
    await using s = await open();
    const { token, info } = await s.store.create({ gatewayId: "prod" });
    const other = await s.store.create({ gatewayId: "prod" });
    expect(await s.store.revoke(info.id, "staging")).toBe(false);
    expect(await s.store.verify("prod", token)).toEqual(info);
    expect(await s.store.revoke(info.id)).toBe(true);
    expect(await s.store.verify("prod", token)).toBeNull();
    const revokedAt = async () => (await s.store.list("prod")).find((t) => t.id === info.id)?.revokedAt;
    const first = await revokedAt();
    expect(first).toBeNumber();
    await Bun.sleep(2); // so a second revocation would carry another time
    expect(await s.store.revoke(info.id, "prod")).toBe(true);
    expect(await revokedAt()).toBe(first!);
    expect(await s.store.revoke("tok_unknown")).toBe(false);
    expect(await s.store.verify("prod", other.token)).toEqual(other.info);
  });

  test("list: every token, oldest first, revoked and expired included; of one gateway when asked", async () => {
    await using s = await open();
    const a = await s.store.create({ gatewayId: "prod", name: "a" });
    await Bun.sleep(2); // distinct creation times: ids made in one millisecond need not sort in creation order
    const b = await s.store.create({ gatewayId: "staging", name: null, expiresAt: Date.now() - 1 });
    await Bun.sleep(2);
    const c = await s.store.create({ gatewayId: "prod", name: "c" });
    await s.store.revoke(c.info.id);
    const all = await s.store.list();
    expect(all.map((t) => t.id)).toEqual([a.info.id, b.info.id, c.info.id]);
    expect(all[1]).toEqual(b.info);
    expect((await s.store.list("prod")).map((t) => t.name)).toEqual(["a", "c"]);
    expect(await s.store.list("nobody")).toEqual([]);
  });

  test("names and gateway ids are data, never SQL", async () => {
    await using s = await open();
    const name = "x'); DROP TABLE gateway_tokens; --";
    const { token, info } = await s.store.create({ gatewayId: "g'--", name });
    expect(await s.store.verify("g'--", token)).toEqual(info);
    expect((await s.store.list("g'--"))[0].name).toBe(name);
  });
}
