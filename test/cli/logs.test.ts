import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { LogRow } from "../../src/store/types.ts";
import { BUN, MAIN, run } from "../support/cli.ts";
import { startFollower, startLogGateway, type LogGateway } from "./log-gateway.ts";

let t: LogGateway;
/** Log ids of the default gateway, in the order the requests were made. */
let ids: { missed: string; hit: string; big: string; failed: string };
let other: string;

const logs = (...args: string[]) => run([BUN, MAIN, "logs", "--config", t.config, ...args]);
const jsonLines = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as LogRow);

// The gateway runs as its own process and keeps running: the CLI reads the file it is writing.
beforeAll(async () => {
  t = await startLogGateway();
  await using follower = startFollower(["logs", "--follow", "--json", "--config", t.config]);
  const cache = { "cf-aig-cache-ttl": "60" };
  ids = {
    missed: (await t.chat("gpt-4o-mini", cache)).id,
    hit: (await t.chat("gpt-4o-mini", cache)).id,
    big: (await t.chat("gpt-4o")).id,
    failed: (await t.chat("gpt-4o-mini", { "x-mock-status": "500" })).id,
  };
  other = (await t.chat("gpt-4o-mini", {}, "other")).id;
  // Once the follower has printed every log, they are all in the file.
  await follower.waitFor(new RegExp(ids.failed));
});
afterAll(() => t?.[Symbol.asyncDispose]());

describe("switchboard logs", () => {
  test("prints the gateway's recent logs as a table, newest last", async () => {
    const result = await logs();

    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ID\s+TIME\s+PROVIDER\s+MODEL\s+STATUS\s+TOKENS\s+COST\s+DURATION$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual([ids.missed, ids.hit, ids.big, ids.failed]);
    expect(lines[1]).toMatch(/\s\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+openai\s+gpt-4o-mini\s+200\s+\d+\/\d+\s+\$\d+\.\d+\s+\d+ ms$/);
    expect(lines[2]).toMatch(/\sopenai\s+gpt-4o-mini\s+200 cached\s/);
    expect(lines[4]).toMatch(/\sopenai\s+gpt-4o-mini\s+500\s/);
    // Aligned: every row starts its TIME column where the header does.
    const timeColumn = lines[0].indexOf("TIME");
    for (const line of lines.slice(1)) expect(line.slice(timeColumn)).toMatch(/^\d{4}-/);
  });

  test("--json prints one logs-API object per line; filters narrow the list", async () => {
    const failed = await logs("--json", "--provider", "openai", "--model", "gpt-4o-mini", "--success", "false");
    const ok = await logs("--json", "--status", "200", "--limit", "2");
    const elsewhere = await logs("--json", "--gateway", "other");

    expect(jsonLines(failed.stdout)).toEqual([
      expect.objectContaining({ id: ids.failed, gateway_id: "default", provider: "openai", model: "gpt-4o-mini", status_code: 500, success: false }),
    ]);
    expect(jsonLines(ok.stdout).map((row) => [row.id, row.status_code, row.cached])).toEqual([
      [ids.hit, 200, true],
      [ids.big, 200, false],
    ]);
    expect(jsonLines(elsewhere.stdout).map((row) => row.id)).toEqual([other]);
  });

  test("--follow prints each log the running gateway stores, and stops on SIGINT", async () => {
    await using follower = startFollower(["logs", "--follow", "--limit", "1", "--config", t.config]);
    await follower.waitFor(new RegExp(`^${ids.failed}\\s`, "m"));

    const next = await t.chat("gpt-4o", { "x-mock-status": "429" });
    const out = await follower.waitFor(new RegExp(`^${next.id}\\s`, "m"));

    expect(next.status).toBe(429);
    expect(out.split("\n").filter(Boolean).map((line) => line.split(/\s+/)[0])).toEqual(["ID", ids.failed, next.id]);
    expect(out).toMatch(new RegExp(`^${next.id}\\s+\\S+\\s+openai\\s+gpt-4o\\s+429\\s`, "m"));
    expect(await follower.stop("SIGINT")).toBe(0);
    expect(follower.stderr()).toBe("");
  });

  test("--follow --json skips what the filters exclude", async () => {
    await using follower = startFollower(["logs", "--follow", "--json", "--limit", "1", "--model", "gpt-4o-mini", "--config", t.config]);
    await follower.waitFor(new RegExp(ids.failed));

    const skipped = await t.chat("gpt-4o");
    const shown = await t.chat("gpt-4o-mini");
    const out = await follower.waitFor(new RegExp(shown.id));

    expect(jsonLines(out).map((row) => row.id)).toEqual([ids.failed, shown.id]);
    expect(out).not.toContain(skipped.id);
    expect(await follower.stop("SIGINT")).toBe(0);
  });

  test.each([
    [["--limit", "0"], "--limit must be a whole number"],
    [["--limit", "ten"], "--limit must be a whole number"],
    [["--limit"], "--limit needs a value"],
    [["--status", "20"], "--status must be an HTTP status"],
    [["--success", "yes"], "--success must be true or false"],
    [["--json=yes"], "--json takes no value"],
    [["--folow"], "logs does not take --folow"],
    [["extra"], 'logs takes no positional argument; got "extra"'],
  ])("%p is a usage error that names the flag", async (args, says) => {
    const result = await logs(...args);

    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(says);
    expect(result.stderr).toContain("Usage: switchboard logs");
    expect(result.stdout).toBe("");
  });

  test("an unknown gateway fails and lists the configured ones", async () => {
    const result = await logs("--gateway", "nope");

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('Gateway "nope" is not in');
    expect(result.stderr).toContain("default, other");
  });
});
