import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openPostgres, type PostgresDatabase } from "../../src/store/postgres/db.ts";
import { PostgresLogStore } from "../../src/store/postgres/logs.ts";
import { PostgresTokenStore } from "../../src/store/postgres/tokens.ts";
import type { LogRow } from "../../src/store/types.ts";
import { makeRecord, memoryLogger } from "../logs/records.ts";
import { BUN, MAIN, run, tempFolder } from "../support/cli.ts";
import { freePort, postgres } from "../support/engines.ts";
import { startFollower } from "./log-gateway.ts";

/**
 * The CLI against PostgreSQL (`storage.postgres`): `migrate`, and `tokens`, `logs`, `stats` reading and
 * writing the same database a gateway replica uses. The replica is played by the stores in this process.
 */

const pg = await postgres();

const configFile = (storage: string) => `import { defineConfig } from "switchboard";
export default defineConfig({
  storage: ${storage},
  gateways: {
    g: { authentication: true, budgets: [{ name: "teams", usd: 5, interval: "1d", key: "metadata:team", provider: "open*" }] },
    h: {},
  },
});
`;

/** The URL with a password, which no output may show. */
const withPassword = (url: string) => url.replace("postgres://postgres@", "postgres://postgres:hunter2-secret@");

describe.skipIf(!pg)("switchboard migrate", () => {
  test("creates the schema in a fresh database and says what it did; a second run finds it up to date", async () => {
    const url = await pg!.database();
    using dir = tempFolder({ "gateway.config.ts": configFile(`{ postgres: ${JSON.stringify(withPassword(url))} }`) });
    const config = join(dir.path, "gateway.config.ts");
    const target = url.replace("postgres://postgres@", "");

    const first = await run([BUN, MAIN, "migrate", "--config", config]);
    expect(first).toEqual({ exitCode: 0, stdout: `Migrated PostgreSQL at ${target}:\n  logs: version 0 → 1\n  tokens: version 0 → 1\n`, stderr: "" });

    const again = await run([BUN, MAIN, "migrate", "--config", config, "--json"]);
    expect(again.exitCode).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ engine: "postgres", database: target, migrated: [], versions: { logs: 1, tokens: 1 } });
  });

  test("without storage.postgres there is nothing to do: SQLite migrates itself", async () => {
    using dir = tempFolder({ "gateway.config.ts": configFile(`{ sqlite: "./data/gw.db" }`) });
    const result = await run([BUN, MAIN, "migrate", "--config", join(dir.path, "gateway.config.ts")]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("storage.postgres is not set");
    expect(result.stdout).toContain("migrates itself");
  });

  test("an unreachable PostgreSQL fails at once, naming the host but never the password", async () => {
    const port = freePort();
    using dir = tempFolder({ "gateway.config.ts": configFile(`{ postgres: "postgres://admin:hunter2-secret@127.0.0.1:${port}/db" }`) });
    const result = await run([BUN, MAIN, "migrate", "--config", join(dir.path, "gateway.config.ts")]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`Migrating PostgreSQL at 127.0.0.1:${port}/db failed`);
    expect(result.stderr + result.stdout).not.toContain("hunter2");
  });
});

describe.skipIf(!pg)("switchboard tokens, logs and stats with storage.postgres", () => {
  let dir: ReturnType<typeof tempFolder>;
  let config: string;
  let db: PostgresDatabase;
  /** The gateway replica's stores, on the same database as the CLI. */
  let tokens: PostgresTokenStore;
  let logs: PostgresLogStore;
  const cli = (...args: string[]) => run([BUN, MAIN, ...args, "--config", config]);
  const jsonLines = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as LogRow);

  beforeAll(async () => {
    const url = await pg!.database();
    dir = tempFolder({ "gateway.config.ts": configFile(`{ postgres: ${JSON.stringify(url)} }`) });
    config = join(dir.path, "gateway.config.ts");
    db = await openPostgres(url);
    tokens = new PostgresTokenStore(db);
    logs = new PostgresLogStore(db, { logger: memoryLogger(), closeDatabase: false });
  });
  afterAll(async () => {
    await logs.close();
    await db.close();
    dir[Symbol.dispose]();
  });

  test("tokens create makes a token the replica accepts; list shows it; revoke stops it there", async () => {
    const made = await cli("tokens", "create", "--gateway", "g", "--name", "ci", "--json");
    expect(made.exitCode).toBe(0);
    const created = JSON.parse(made.stdout) as { token: string; id: string };
    expect(await tokens.verify("g", created.token)).toMatchObject({ id: created.id, gatewayId: "g", name: "ci", revokedAt: null });
    expect(await tokens.verify("h", created.token)).toBeNull();

    const listed = await cli("tokens", "list", "--json");
    expect(JSON.parse(listed.stdout)).toContainEqual({ id: created.id, gateway: "g", name: "ci", created_at: expect.any(String), expires_at: null, status: "active" });

    expect((await cli("tokens", "revoke", created.id)).exitCode).toBe(0);
    expect(await tokens.verify("g", created.token)).toBeNull();
  });

  test("logs prints what the replica stored, filters included; stats totals it, budgets by bucket", async () => {
    const now = Date.now();
    const team = (name: string) => ({ team: name });
    const stored = [
      makeRecord({ gatewayId: "g", provider: "openai", model: "gpt-4o", createdAt: now - 3000, cost: 0.25, durationMs: 100, metadata: team("search") }),
      makeRecord({ gatewayId: "g", provider: "anthropic", model: "claude-sonnet-4-5", createdAt: now - 2500, success: false, status: 500, cost: null, durationMs: 300, metadata: team("search") }),
      makeRecord({ gatewayId: "g", provider: "openai", model: "gpt-4o-mini", createdAt: now - 2000, cost: 0.5, durationMs: 200, metadata: team("infra") }),
      makeRecord({ gatewayId: "h", provider: "openai", createdAt: now - 1000 }),
    ];
    for (const record of stored) logs.append(record);
    await logs.flush();

    const all = await cli("logs", "--gateway", "g", "--json");
    expect(all.exitCode).toBe(0);
    expect(jsonLines(all.stdout).map((row) => [row.id, row.provider, row.status_code])).toEqual([
      [stored[0].logId, "openai", 200],
      [stored[1].logId, "anthropic", 500],
      [stored[2].logId, "openai", 200],
    ]);
    const failed = await cli("logs", "--gateway", "g", "--json", "--success", "false");
    expect(jsonLines(failed.stdout).map((row) => row.id)).toEqual([stored[1].logId]);
    const table = await cli("logs", "--gateway", "g");
    expect(table.stdout.trim().split("\n")[0]).toMatch(/^ID\s+TIME\s+PROVIDER\s+MODEL\s+STATUS\s+TOKENS\s+COST\s+DURATION$/);

    const stats = await cli("stats", "--gateway", "g", "--json");
    expect(stats.exitCode).toBe(0);
    const body = JSON.parse(stats.stdout);
    expect(body.totals).toEqual({
      requests: 3,
      errors: 1,
      cached: 0,
      cache_hit_rate: 0,
      tokens_in: 30,
      tokens_out: 15,
      cost: 0.75,
      duration_p50: 200,
      duration_p95: 300,
    });
    expect(body.models.map((m: { model: string }) => m.model)).toEqual(["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5"]);
    // Only the providers the rule's glob takes (open*), by metadata team, most spent first.
    expect(body.budgets.map((b: { bucket: string; spent: number }) => [b.bucket, b.spent])).toEqual([
      ["metadata:team=infra", 0.5],
      ["metadata:team=search", 0.25],
    ]);
  });

  test("logs --follow prints each log the replica stores, and stops on SIGINT", async () => {
    await using follower = startFollower(["logs", "--follow", "--json", "--gateway", "h", "--limit", "1", "--config", config]);
    const before = await follower.waitFor(/"gateway_id":"h"/);
    const next = makeRecord({ gatewayId: "h", model: "followed-model" });
    logs.append(next);
    await logs.flush();
    const out = await follower.waitFor(new RegExp(next.logId));
    expect(jsonLines(out).length).toBe(jsonLines(before).length + 1);
    expect(await follower.stop("SIGINT")).toBe(0);
    expect(follower.stderr()).toBe("");
  });
});
