import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUN, MAIN, run, tempFolder } from "../support/cli.ts";
import { startFollower, startLogGateway, type LogGateway } from "./log-gateway.ts";

let t: LogGateway;

const stats = (...args: string[]) => run([BUN, MAIN, "stats", "--config", t.config, ...args]);

beforeAll(async () => {
  t = await startLogGateway();
  await using follower = startFollower(["logs", "--follow", "--json", "--config", t.config]);
  const cache = { "cf-aig-cache-ttl": "60" };
  await t.chat("gpt-4o-mini", cache);
  await t.chat("gpt-4o-mini", cache);
  await t.chat("gpt-4o");
  const last = await t.chat("gpt-4o-mini", { "x-mock-status": "500" });
  await t.chat("gpt-4o", {}, "other");
  // Once the follower has printed the last log, all of the default gateway's are in the file.
  await follower.waitFor(new RegExp(last.id));
});
afterAll(() => t?.[Symbol.asyncDispose]());

/** What the stored rows add up to, read straight from the file the running gateway writes. */
function stored(where = "gateway_id = 'default'") {
  using db = new Database(t.database, { readonly: true });
  const rows = db.query<{ model: string; tokens_in: number | null; tokens_out: number | null; cost: number | null; duration: number }, []>(`SELECT model, tokens_in, tokens_out, cost, duration FROM logs WHERE ${where}`).all();
  const sum = (pick: (row: (typeof rows)[number]) => number | null) => rows.reduce((total, row) => total + (pick(row) ?? 0), 0);
  const durations = rows.map((row) => row.duration).sort((a, b) => a - b);
  return {
    tokens_in: sum((row) => row.tokens_in),
    tokens_out: sum((row) => row.tokens_out),
    cost: sum((row) => row.cost),
    duration_p50: durations[Math.ceil(0.5 * durations.length) - 1],
    duration_p95: durations[Math.ceil(0.95 * durations.length) - 1],
  };
}

describe("switchboard stats", () => {
  test("--json gives the totals and the top models of the gateway's logs, read while it runs", async () => {
    const result = await stats("--json");
    const all = stored();
    const mini = stored("gateway_id = 'default' AND model = 'gpt-4o-mini'");
    const big = stored("gateway_id = 'default' AND model = 'gpt-4o'");

    expect(result.exitCode).toBe(0);
    const body = JSON.parse(result.stdout);
    expect(body).toEqual({
      gateway: "default",
      since: expect.any(String),
      until: expect.any(String),
      // SQLite's SUM may round differently from adding in JavaScript.
      totals: { requests: 4, errors: 1, cached: 1, cache_hit_rate: 0.25, ...all, cost: expect.closeTo(all.cost, 12) },
      models: [
        { provider: "openai", model: "gpt-4o-mini", requests: 3, tokens_in: mini.tokens_in, tokens_out: mini.tokens_out, cost: expect.closeTo(mini.cost, 12) },
        { provider: "openai", model: "gpt-4o", requests: 1, tokens_in: big.tokens_in, tokens_out: big.tokens_out, cost: expect.closeTo(big.cost, 12) },
      ],
      budgets: [],
    });
    expect(all.tokens_in).toBeGreaterThan(0);
    expect(all.cost).toBeGreaterThan(0);
    expect(Date.parse(body.until) - Date.parse(body.since)).toBe(24 * 3_600_000);
  });

  test("prints the totals and the models as aligned tables", async () => {
    const result = await stats();

    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^Gateway "default", \S+ to \S+$/m);
    expect(result.stdout).toMatch(/^requests\s+4$/m);
    expect(result.stdout).toMatch(/^errors\s+1 \(25\.0%\)$/m);
    expect(result.stdout).toMatch(/^cache hits\s+1 \(25\.0%\)$/m);
    expect(result.stdout).toMatch(/^duration p95\s+[\d,]+ ms$/m);
    const models = result.stdout.slice(result.stdout.indexOf("PROVIDER")).trim().split("\n");
    expect(models[0]).toMatch(/^PROVIDER\s+MODEL\s+REQUESTS\s+TOKENS IN\s+TOKENS OUT\s+COST$/);
    expect(models[1]).toMatch(/^openai\s+gpt-4o-mini\s+3\s+[\d,]+\s+[\d,]+\s+\$[\d.]+$/);
    expect(models[2]).toMatch(/^openai\s+gpt-4o\s+1\s/);
    // Numbers are right-aligned: every row ends where the header does.
    expect(new Set(models.map((line) => line.length)).size).toBe(1);
  });

  test("--gateway and --since choose the logs", async () => {
    const other = JSON.parse((await stats("--json", "--gateway", "other")).stdout);
    const later = JSON.parse((await stats("--json", "--since", new Date().toISOString())).stdout);
    const week = JSON.parse((await stats("--json", "--since", "7d")).stdout);

    expect(other.totals.requests).toBe(1);
    // The other gateway's budget: what its logs spent in the rule's current (clock-aligned) day.
    const day = 86_400_000;
    const windowStart = Math.floor(Date.now() / day) * day;
    expect(other.budgets).toEqual([
      { name: "daily", bucket: "gateway", usd: 5, spent: expect.closeTo(stored("gateway_id = 'other'").cost, 9), window_start: new Date(windowStart).toISOString(), resets_at: new Date(windowStart + day).toISOString() },
    ]);
    expect(other.models.map((m: { model: string }) => m.model)).toEqual(["gpt-4o"]);
    expect(later.totals).toMatchObject({ requests: 0, duration_p50: null, cost: 0 });
    expect(later.models).toEqual([]);
    expect(week.totals.requests).toBe(4);
  });

  test.each([
    [["--since", "3x"], '--since "3x" must be a duration'],
    [["--since", "0h"], "at least 1h"],
    [["--since", "2999-01-01"], "in the future"],
    [["--since"], "--since needs a value"],
    [["--top", "3"], "stats does not take --top"],
  ])("%p is a usage error that names the flag", async (args, says) => {
    const result = await stats(...args);

    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(says);
    expect(result.stdout).toBe("");
  });

  test("never creates a database: without one it says so and exits 1", async () => {
    using dir = tempFolder({ "gateway.config.ts": `export default { storage: { sqlite: "./nothing/here.db" } };\n` });
    const result = await run([BUN, MAIN, "stats", "--config", join(dir.path, "gateway.config.ts")]);

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("No log database at");
    expect(existsSync(join(dir.path, "nothing"))).toBe(false);
  });
});
