import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { validateConfig } from "../../src/config/loader.ts";
import type { HealthReport, Logger } from "../../src/pipeline/types.ts";
import { GatewayHealth } from "../../src/server/health.ts";
import { startGateway, type RunningGateway } from "../../src/server/start.ts";
import type { CacheEntry } from "../../src/store/cache.ts";
import { SqliteCacheStore } from "../../src/store/sqlite/cache.ts";
import { openDatabase } from "../../src/store/sqlite/db.ts";
import { SqliteLogStore } from "../../src/store/sqlite/logs.ts";
import { BUN, MAIN, startServe, tempFolder } from "../support/cli.ts";
import { canMountTmpfs, mountSmallDisk, unmountAll } from "../support/full-disk.ts";
import { mockProviders } from "../support/gateway.ts";
import { startMockUpstream } from "../support/mock-upstream.ts";
import { makeRecord, side } from "../logs/records.ts";

const MiB = 1024 * 1024;

afterAll(unmountAll);

/** A logger that keeps every line, by level. */
function captureLogger(): Logger & { errors: string[]; infos: string[] } {
  const errors: string[] = [];
  const infos: string[] = [];
  return { errors, infos, info: (m) => void infos.push(m), warn: (m) => void infos.push(m), error: (m) => void errors.push(m) };
}

/** Calls `probe` until `done` holds, with a short pause between tries; fails after `ms`. */
async function poll<T>(probe: () => T | Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`still not there after ${ms} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function healthOf(url: string): Promise<{ http: number; report: HealthReport }> {
  const response = await fetch(`${url}/health`);
  return { http: response.status, report: (await response.json()) as HealthReport };
}

const countOf = (report: HealthReport, component: string) => report.faults.find((f) => f.component === component)?.count ?? 0;
const linesAbout = (lines: string[], component: string) => lines.filter((line) => line.startsWith(`${component}: `));

describe.skipIf(!canMountTmpfs)("a full disk (a real tmpfs holding the SQLite files)", () => {
  test("requests with cf-aig-cache-ttl keep answering 200; /health is degraded, each fault logged once; freed space brings the held logs in and /health back to ok", async () => {
    await using disk = mountSmallDisk(16 * MiB);
    await using upstream = await startMockUpstream();
    const logger = captureLogger();
    const health = new GatewayHealth(logger, { settleMs: 20 });
    const config = validateConfig({ storage: { sqlite: join(disk!.path, "switchboard.db") }, providers: mockProviders(upstream.url), plugins: ["cache", "logging"] }, null, disk!.path);
    const gw: RunningGateway = await startGateway({ config, port: 0, logger, health });
    await using _stop = { [Symbol.asyncDispose]: () => gw.stop() };
    const pad = "x".repeat(200_000);
    const ask = async (i: number) => {
      const body = JSON.stringify({ question: i, pad });
      const response = await fetch(`${gw.url}/v1/local/default/custom-mock/echo`, { method: "POST", headers: { "content-type": "application/json", "cf-aig-cache-ttl": "300" }, body });
      await response.arrayBuffer();
      return { status: response.status, id: response.headers.get("cf-aig-log-id")! };
    };

    expect((await ask(0)).status).toBe(200);
    await poll(() => healthOf(gw.url), ({ report }) => report.stats.logs?.written === 1);
    disk!.fill();
    const whileFull: { status: number; id: string }[] = [];
    for (let i = 1; i <= 5; i++) {
      whileFull.push(await ask(i));
      // Each answer's cache write and log batch fail on their own, before the next request.
      await poll(() => healthOf(gw.url), ({ report }) => countOf(report, "cache") >= i && countOf(report, "logs") >= i);
    }
    const full = await healthOf(gw.url);

    expect(whileFull.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(full.http).toBe(200);
    expect(full.report.status).toBe("degraded");
    expect(full.report.faults.map((f) => f.component).sort()).toEqual(["cache", "logs"]);
    for (const fault of full.report.faults) {
      expect(fault.reason).toMatch(/^writing (cached answers|logs): SQLITE_(FULL|IOERR)/);
      expect(fault.count).toBeGreaterThanOrEqual(5);
      expect(Date.parse(fault.since)).toBeLessThanOrEqual(Date.parse(fault.last));
    }
    expect(JSON.stringify(full.report)).not.toContain("xxxx");
    expect(JSON.stringify(full.report)).not.toContain(disk!.path);
    expect(full.report.stats.logs).toEqual({ written: 1, dropped: 0, retrying: 5 });
    expect([linesAbout(logger.errors, "cache").length, linesAbout(logger.errors, "logs").length]).toEqual([1, 1]);

    disk!.free();
    const after = await ask(6);
    const healed = await poll(() => healthOf(gw.url), ({ report }) => report.status === "ok");

    expect(after.status).toBe(200);
    expect(healed).toEqual({ http: 200, report: { status: "ok", faults: [], stats: { logs: { written: 7, dropped: 0, retrying: 0 } } } });
    for (const { id } of [...whileFull, after]) expect(await gw.handle.stores.logs.get("default", id)).toMatchObject({ id, status_code: 200 });
    expect(linesAbout(logger.infos, "cache")).toEqual([expect.stringMatching(/^cache: recovered after \d+ failures since /)]);
    expect(linesAbout(logger.infos, "logs")).toEqual([expect.stringMatching(/^logs: recovered after \d+ failures since /)]);
    expect([linesAbout(logger.errors, "cache").length, linesAbout(logger.errors, "logs").length]).toEqual([1, 1]);
  }, 30_000);
});

/** The real stores on a database capped with `PRAGMA max_page_count`: SQLite itself answers SQLITE_FULL, on demand. */
function cappedDatabase() {
  const db = openDatabase(":memory:");
  return {
    db,
    full: () => db.run(`PRAGMA max_page_count = ${db.query<{ page_count: number }, []>("PRAGMA page_count").get()!.page_count}`),
    roomy: () => db.run("PRAGMA max_page_count = 1073741823"),
  };
}

const answer = (bytes: number): CacheEntry => ({ status: 200, headers: [["content-type", "application/json"]], body: new Uint8Array(bytes), step: 0, createdAt: Date.now(), expiresAt: Date.now() + 60_000 });

describe("a database that refuses writes (SQLite's own page cap), on any machine", () => {
  test("the cache store's timer flush never throws: the entries are simply not cached, and the burst is logged once", async () => {
    const { db, full, roomy } = cappedDatabase();
    const logger = captureLogger();
    const health = new GatewayHealth(logger, { settleMs: 0 });
    const store = new SqliteCacheStore(db, { health });
    full();

    for (let i = 1; i <= 3; i++) {
      await store.put(`refused-${i}`, answer(100_000));
      await poll(() => countOf(health.snapshot(), "cache"), (count) => count === i);
    }
    const refused = await Promise.all([1, 2, 3].map((i) => store.get(`refused-${i}`)));
    const degraded = health.snapshot();
    roomy();
    await store.put("later", answer(100_000));
    store.flush();

    expect(refused).toEqual([null, null, null]);
    expect(degraded.faults).toEqual([{ component: "cache", reason: "writing cached answers: SQLITE_FULL (database or disk is full)", count: 3, since: expect.any(String), last: expect.any(String) }]);
    expect((await store.get("later"))?.body.byteLength).toBe(100_000);
    expect(health.snapshot()).toEqual({ status: "ok", faults: [], stats: {} });
    expect(logger.errors).toEqual(["cache: writing cached answers: SQLITE_FULL (database or disk is full); further failures are counted in GET /health, not logged, until it recovers"]);
    expect(logger.infos).toEqual([expect.stringMatching(/^cache: recovered after 3 failures since \d{4}-/)]);
    store.close();
  });

  test("the log store holds refused records for another try, drops (and counts) what passes its bound, and writes the rest once the database takes writes", async () => {
    const { db, full, roomy } = cappedDatabase();
    const logger = captureLogger();
    const health = new GatewayHealth(logger, { settleMs: 0 });
    const store = new SqliteLogStore(db, { logger, health, retry: { maxRecords: 3 } });
    const big = () => makeRecord({ request: side("q".repeat(60_000), "text/plain") });
    const all = (n: number) => Array.from({ length: n }, big);
    full();

    const held = all(2);
    for (const record of held) store.append(record);
    await store.flush();
    const first = { retrying: store.retrying, stats: { ...store.stats } };
    const overflow = all(2);
    for (const record of overflow) store.append(record);
    await store.flush();
    const second = { retrying: store.retrying, stats: { ...store.stats } };
    roomy();
    const last = big();
    store.append(last);
    await store.flush();

    expect(first).toEqual({ retrying: 2, stats: { batches: 0, written: 0, dropped: 0 } });
    expect(second).toEqual({ retrying: 2, stats: { batches: 0, written: 0, dropped: 2 } });
    expect(store.retrying).toBe(0);
    expect(store.stats).toMatchObject({ written: 3, dropped: 2 });
    const stored = await Promise.all([...held, ...overflow, last].map(async (r) => (await store.get("default", r.logId)) !== null));
    expect(stored).toEqual([true, true, false, false, true]);
    expect(health.snapshot().status).toBe("ok");
    expect(logger.errors).toEqual(["logs: writing logs: SQLITE_FULL (database or disk is full); further failures are counted in GET /health, not logged, until it recovers"]);

    full();
    store.append(big());
    await store.close();
    expect(store.stats.dropped).toBe(3);
    expect(logger.errors.at(-1)).toBe("1 log held back by a storage fault could not be written before closing; lost");
  });
});

describe("the serve process", () => {
  test("a plugin's throwing timer and unhandled rejections are counted in /health and logged once; the process keeps serving", async () => {
    await using upstream = await startMockUpstream();
    using dir = tempFolder({
      "gateway.config.ts": `import { defineConfig } from "switchboard";
import unruly from "./plugins/unruly.ts";
export default defineConfig({
  storage: { sqlite: "./data/gateway.db" },
  providers: { "custom-mock": { baseUrl: "${upstream.url}/custom" } },
  plugins: [unruly, "logging"],
});
`,
      "plugins/unruly.ts": `import { definePlugin } from "switchboard";
export default definePlugin({
  name: "unruly",
  setup() {
    setTimeout(() => { throw new Error("timer failed with sk-secret-1"); }, 0);
    Promise.reject(new Error("rejected with sk-secret-2"));
  },
  handle(ctx, next) {
    if (ctx.headers.get("x-misbehave") === "1") {
      setTimeout(() => { throw new TypeError("sk-secret-3"); }, 0);
      void Promise.reject(new RangeError("sk-secret-4"));
    }
    return next();
  },
});
`,
    });
    await using server = await startServe([BUN, MAIN, "serve", "--config", join(dir.path, "gateway.config.ts"), "--port", "0"], { cwd: dir.path });
    const ask = (headers: Record<string, string> = {}) => fetch(`${server.url}/v1/local/default/custom-mock/echo`, { method: "POST", headers, body: "{}" }).then((r) => r.status);

    await poll(() => healthOf(server.url), ({ report }) => countOf(report, "process") >= 2);
    const misbehaving = [await ask({ "x-misbehave": "1" }), await ask({ "x-misbehave": "1" }), await ask({ "x-misbehave": "1" })];
    const { http, report } = await poll(() => healthOf(server.url), ({ report }) => countOf(report, "process") >= 8);
    const afterwards = await ask();

    expect({ misbehaving, afterwards, alive: server.proc.exitCode === null }).toEqual({ misbehaving: [200, 200, 200], afterwards: 200, alive: true });
    expect(http).toBe(200);
    expect(report).toMatchObject({ status: "degraded", faults: [{ component: "process", count: 8 }] });
    expect(report.faults[0].reason).toMatch(/^(uncaught exception|unhandled promise rejection): (Error|TypeError|RangeError)$/);
    expect(JSON.stringify(report)).not.toContain("sk-secret");
    expect(server.output().stderr.split("\n").filter((line) => line.includes(" error process: "))).toHaveLength(1);
    expect(await server.terminate()).toBe(0);
  }, 30_000);
});
