/**
 * Issue 22, faults: SQLite busy. Another process holds one of the gateway's SQLite files write-locked
 * (the test process, on a connection of its own: `BEGIN EXCLUSIVE`, held past the 5 s busy timeout of
 * src/store/sqlite/db.ts) while requests flow through a `switchboard serve` child process.
 *
 * - The log file: requests keep being answered quickly (the log writer thread waits, the request
 *   thread never does), `/health` names `logs` while it lasts, and once the lock is gone every answered
 *   request is a row and the health is back to ok. A token made through the admin API meanwhile (a write
 *   on the request thread's own connection) is refused with 503 at once instead of stalling every
 *   request for the busy timeout.
 * - The cache file: writes of answers and prompt vectors fail (`cache`, `semantic-cache` in `/health`),
 *   answers are quick MISSes, and the cache works again once the lock is gone; nothing hangs or crashes.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { HealthReport } from "../../src/pipeline/types.ts";
import { BUN, MAIN, startServe, tempFolder, type ServeProcess } from "../support/cli.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

// Each case holds a lock past the gateway's 5 s busy timeout, on 2 shared cores.
setDefaultTimeout(60_000);

/** A round trip this long has waited on the lock (the busy timeout is 5000 ms); unloaded they take a few ms. */
const QUICK_MS = 1000;
/** Traffic goes on this long (and `AFTER_FAULT` requests at least) after `/health` named the fault, before the lock is released. */
const LOCKED_AFTER_FAULT_MS = 1500;
const AFTER_FAULT = 20;
const ADMIN = "sqlite-busy-admin";

let upstream: MockUpstream;
let embedder: ReturnType<typeof Bun.serve>;
beforeAll(async () => {
  upstream = await startMockUpstream();
  // Embeddings far apart (random directions in 64 dimensions): every prompt is a semantic MISS, so each answer writes a vector.
  embedder = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => Response.json({ object: "list", data: [{ object: "embedding", index: 0, embedding: Array.from({ length: 64 }, () => Math.random() - 0.5) }], model: "embed-1", usage: { prompt_tokens: 1, total_tokens: 1 } }),
  });
});
afterAll(async () => {
  await upstream?.stop();
  await embedder?.stop(true);
});

interface Gateway extends AsyncDisposable {
  url: string;
  server: ServeProcess;
  /** The main SQLite file (logs, tokens) and the cache's (answers, prompt vectors). */
  files: { logs: string; cache: string };
}

async function serve(): Promise<Gateway> {
  const folder = tempFolder({
    "gateway.config.ts": `export default {
  server: { adminToken: "${ADMIN}" },
  storage: { sqlite: "./data/switchboard.db" },
  providers: {
    openai: { baseUrl: "${upstream.url}/v1", apiKey: "sk-held" },
    "custom-embed": { baseUrl: "http://127.0.0.1:${embedder.port}/v1" },
  },
  gateways: {
    default: {},
    cached: { cache: { ttl: 300, semantic: { threshold: 0.99, embed: { provider: "custom-embed", model: "embed-1" } } } },
  },
};
`,
  });
  const server = await startServe([BUN, MAIN, "serve", "--config", join(folder.path, "gateway.config.ts"), "--port", "0"], { cwd: folder.path, env: { SWITCHBOARD_ADMIN_TOKEN: "" } });
  return {
    url: server.url,
    server,
    files: { logs: join(folder.path, "data/switchboard.db"), cache: join(folder.path, "data/switchboard.cache.db") },
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      folder[Symbol.dispose]();
    },
  };
}

/** A second connection to `file` holding its write lock until disposed (rolled back: nothing written). */
function writeLock(file: string): Disposable {
  const db = new Database(file);
  // Should the gateway be mid-commit, wait for it rather than fail: the lock is then ours.
  db.run("PRAGMA busy_timeout = 5000");
  db.run("BEGIN EXCLUSIVE");
  return {
    [Symbol.dispose]() {
      if (db.inTransaction) db.run("ROLLBACK");
      db.close();
    },
  };
}

interface Answer {
  status: number;
  ms: number;
  id: string | null;
  cache: string | null;
}

/** A distinct chat completion (a MISS on the cached gateway), timed. */
async function ask(gw: Gateway, gateway: string, n: number): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${gw.url}/v1/local/${gateway}/openai/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${n}` }] }),
  });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started, id: response.headers.get("cf-aig-log-id"), cache: response.headers.get("cf-aig-cache-status") };
}

/** `GET /health`, timed: it is answered by the request thread too. */
async function health(gw: Gateway): Promise<HealthReport & { ms: number }> {
  const started = performance.now();
  const report = (await (await fetch(`${gw.url}/health`)).json()) as HealthReport;
  return { ...report, ms: performance.now() - started };
}

const components = (report: HealthReport) => report.faults.map((f) => f.component).sort();
const reason = (report: HealthReport, component: string) => report.faults.find((f) => f.component === component)?.reason;

/** Calls `probe` until `done` holds; fails after `ms` with the last value. */
async function poll<T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`still not there after ${ms} ms: ${JSON.stringify(value)}`);
    await Bun.sleep(20);
  }
}

interface Locked {
  answers: Answer[];
  /** The first `/health` that named every expected component; null if none did in time. */
  report: HealthReport | null;
  /** The slowest round trip while locked, requests and health checks alike, in ms. */
  slowest: number;
  /** When the lock was taken and released (epoch ms). */
  from: number;
  until: number;
}

/**
 * Holds `file` write-locked while requests go one after another with a health check after each, until
 * `/health` names every one of `expected` and traffic has gone on a while longer (or 20 s passed); then
 * releases it.
 */
async function whileLocked(gw: Gateway, file: string, gateway: string, expected: string[], from: number): Promise<Omit<Locked, "until">> {
  using _lock = writeLock(file);
  const lockedAt = Date.now();
  const answers: Answer[] = [];
  const trips: number[] = [];
  const deadline = Date.now() + 20_000;
  let report: HealthReport | null = null;
  let faultAt = 0;
  let answeredAtFault = 0;
  while (!report || answers.length < answeredAtFault + AFTER_FAULT || Date.now() - faultAt < LOCKED_AFTER_FAULT_MS) {
    if (Date.now() > deadline) break;
    const answer = await ask(gw, gateway, from + answers.length);
    answers.push(answer);
    const now = await health(gw);
    trips.push(answer.ms, now.ms);
    if (!report && expected.every((component) => components(now).includes(component))) {
      report = now;
      faultAt = Date.now();
      answeredAtFault = answers.length;
    }
  }
  return { answers, report, slowest: Math.round(Math.max(...trips)), from: lockedAt };
}

/** {@link whileLocked}, with the time the lock was released. */
async function lockedTraffic(...args: Parameters<typeof whileLocked>): Promise<Locked> {
  const locked = await whileLocked(...args);
  return { ...locked, until: Date.now() };
}

describe("the log database write-locked by another connection", () => {
  test("requests keep being answered quickly, /health names logs while it lasts, and every record is written once the lock is gone", async () => {
    await using gw = await serve();
    const first = await ask(gw, "default", 0);
    // The file and its tables exist before the lock is taken.
    await poll(() => health(gw), (report) => report.stats.logs?.written === 1);

    const locked = await lockedTraffic(gw, gw.files.logs, "default", ["logs"], 1);
    const answered = [first, ...locked.answers];
    const healed = await poll(() => health(gw), (report) => report.status === "ok" && report.stats.logs?.written === answered.length);
    using db = new Database(gw.files.logs, { readonly: true });
    const stored = db.query<{ id: string; status_code: number }, []>("SELECT id, status_code FROM logs ORDER BY id").all();

    expect(locked.answers.filter((a) => a.status !== 200)).toEqual([]);
    expect({ slowest: locked.slowest, quick: locked.slowest < QUICK_MS }).toMatchObject({ quick: true });
    expect({ slowest: locked.slowest, answered: locked.answers.length, named: locked.report !== null }).toMatchObject({ named: true });
    const report = locked.report!;
    expect({ status: report.status, faults: components(report) }).toEqual({ status: "degraded", faults: ["logs"] });
    expect(reason(report, "logs")).toBe("writing logs: SQLITE_BUSY (database is locked)");
    expect(report.stats.logs).toMatchObject({ written: 1, dropped: 0 });
    expect({ status: healed.status, faults: healed.faults, stats: healed.stats }).toEqual({ status: "ok", faults: [], stats: { logs: { written: answered.length, dropped: 0, retrying: 0 } } });
    expect(stored).toEqual(answered.map((a) => ({ id: a.id!, status_code: 200 })).sort((a, b) => (a.id < b.id ? -1 : 1)));
    expect(gw.server.output().stderr).toContain("logs: writing logs: SQLITE_BUSY");
    expect(await gw.server.terminate()).toBe(0);
  });

  test("a token made through the admin API meanwhile is refused with 503 / 2118 at once, /health names tokens, nothing else waits; made normally once the lock is gone", async () => {
    await using gw = await serve();
    const create = async () => {
      const started = performance.now();
      const response = await fetch(`${gw.url}/client/v4/accounts/local/ai-gateway/gateways/default/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "busy" }),
      });
      const body = (await response.json()) as { success: boolean; errors?: { code: number }[] };
      return { status: response.status, retryAfter: response.headers.get("retry-after"), ok: body.success, code: body.errors?.[0]?.code ?? null, ms: performance.now() - started };
    };
    expect(await create()).toMatchObject({ status: 200, ok: true });

    const lock = writeLock(gw.files.logs);
    let refused: Awaited<ReturnType<typeof create>>;
    let meanwhile: Answer[];
    let report: HealthReport;
    try {
      // A request sent while the token write waits: it must not queue behind it.
      [refused, meanwhile] = await Promise.all([create(), Promise.all([1, 2, 3].map((n) => ask(gw, "default", n)))]);
      report = await health(gw);
    } finally {
      lock[Symbol.dispose]();
    }
    const made = await create();
    const healed = await poll(() => health(gw), (now) => now.status === "ok");

    expect({ status: refused.status, retryAfter: refused.retryAfter, code: refused.code, ms: Math.round(refused.ms), quick: refused.ms < QUICK_MS }).toMatchObject({ status: 503, retryAfter: "1", code: 2118, quick: true });
    expect(meanwhile.map((a) => ({ status: a.status, quick: a.ms < QUICK_MS }))).toEqual([1, 2, 3].map(() => ({ status: 200, quick: true })));
    expect(reason(report, "tokens")).toBe("storing a token: SQLITE_BUSY (database is locked)");
    expect(made).toMatchObject({ status: 200, ok: true });
    expect(healed.faults).toEqual([]);
    expect(await gw.server.terminate()).toBe(0);
  });
});

describe("the cache database write-locked by another connection", () => {
  test("answer and vector writes fail and /health names them; answers stay quick MISSes; the cache works again once the lock is gone; no crash", async () => {
    await using gw = await serve();
    expect(await ask(gw, "cached", 0)).toMatchObject({ status: 200, cache: "MISS" });
    expect(await ask(gw, "cached", 0)).toMatchObject({ status: 200, cache: "HIT" });

    // The warm-up answer is in the file (it is committed a few ms after the answer) before the lock is taken.
    using db = new Database(gw.files.cache, { readonly: true });
    /** Rows of answers and prompt vectors made at `since` or later (a vector's time is its expiry less the 300 s TTL), and before `before`. */
    const rows = (since: number, before = Infinity) =>
      db
        .query<{ answers: number; vectors: number }, [number, number, number, number]>(
          "SELECT (SELECT count(*) FROM cache WHERE created_at >= ? AND created_at < ?) AS answers, (SELECT count(*) FROM cache_vectors WHERE expires_at - 300000 >= ? AND expires_at - 300000 < ?) AS vectors",
        )
        .get(since, before, since, before)!;
    await poll(async () => rows(0), (now) => now.answers === 1 && now.vectors === 1);

    const locked = await lockedTraffic(gw, gw.files.cache, "cached", ["cache", "semantic-cache"], 1);
    const afterAt = Date.now();
    const after = await ask(gw, "cached", 1_000_000);
    const healed = await poll(() => health(gw), (report) => report.status === "ok");
    // The answer after the lock is written (and maybe the last ones before it, queued when it was released).
    await poll(async () => rows(afterAt), (now) => now.answers >= 1 && now.vectors >= 1);

    expect(locked.answers.filter((a) => a.status !== 200 || a.cache !== "MISS")).toEqual([]);
    expect({ slowest: locked.slowest, quick: locked.slowest < QUICK_MS }).toMatchObject({ quick: true });
    expect({ slowest: locked.slowest, answered: locked.answers.length, named: locked.report !== null }).toMatchObject({ named: true });
    expect(reason(locked.report!, "cache")).toBe("writing cached answers: SQLITE_BUSY (database is locked)");
    expect(reason(locked.report!, "semantic-cache")).toBe("writing a prompt vector: SQLITE_BUSY (database is locked)");
    expect(after).toMatchObject({ status: 200, cache: "MISS" });
    expect(healed.faults).toEqual([]);
    // Refused while locked means not in the file: the last few ms before the release were still queued, and were written after it.
    expect(rows(locked.from, locked.until - 500)).toEqual({ answers: 0, vectors: 0 });
    expect(await gw.server.terminate()).toBe(0);
  });
});
