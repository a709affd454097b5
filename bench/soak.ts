/**
 * Soak test (issue 22): a real gateway under steady mixed load until a request count or a duration,
 * watching its resident memory and checking that every answered request is in its logs.
 *
 *   bun bench/soak.ts [--requests 300000] [--concurrency 32] [--duration S] [--sockets 4] [--max-growth-mb 50] [--max-growth-pct 20]
 *
 * Starts bench/upstream.ts (the mock OpenAI provider) and `bun src/main.ts serve` (the default plugin
 * chain, every request logged with its payloads to SQLite in a temp dir), each in its own process,
 * then keeps `--concurrency` requests in flight from this process: three quarters on HTTP workers,
 * each cycling through a provider-route chat completion, a provider-route stream, a compat request
 * and a compat stream; one quarter on `--sockets` WebSockets speaking the Universal API, each with its
 * share of requests in flight, alternating plain and streaming requests. Every answer is checked
 * (status 200 and a whole body: `[DONE]` for streams, `universal.done` over WebSocket) and its log id
 * kept. It stops at `--requests` answered (default 300,000; with only `--duration`, at the time).
 *
 * The gateway's VmRSS (/proc/PID/status) is sampled every second. Warm-up is the first 10% of the
 * run (by requests, or by time with `--duration`) and at least 5 s; the first sample after it is the
 * start RSS, the peak is the highest sample after it. Then
 * the gateway is stopped gracefully (SIGTERM, exit 0 expected) and the SQLite file is read: each kept
 * log id must be a row.
 *
 * Memory counts as flat when the end RSS (the last sample under load) is at most
 * max(`--max-growth-mb` MiB, `--max-growth-pct`% of the start RSS) above the start RSS: 50 MiB or
 * 20% by default — SQLite's page cache and the JavaScript heap settle at sizes that depend on the
 * machine, a leak grows with the request count.
 *
 * Prints a human summary and, last, one JSON line (`{"soak": …}`). Exits 1 when a request failed,
 * an answered request is missing from the logs, the gateway did not stop cleanly, or memory grew
 * past the limit; 2 on bad arguments.
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    requests: { type: "string" },
    concurrency: { type: "string", default: "32" },
    duration: { type: "string" },
    sockets: { type: "string", default: "4" },
    "max-growth-mb": { type: "string", default: "50" },
    "max-growth-pct": { type: "string", default: "20" },
  },
  strict: true,
});

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`soak: --${name} must be a positive number, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

const durationS = positive("duration", values.duration);
const target = positive("requests", values.requests) ?? (durationS === undefined ? 300_000 : Infinity);
const concurrency = Math.max(2, Math.floor(positive("concurrency", values.concurrency)!));
const sockets = Math.min(Math.floor(positive("sockets", values.sockets)!), Math.max(1, Math.floor(concurrency / 4)));
const maxGrowthMb = positive("max-growth-mb", values["max-growth-mb"])!;
const maxGrowthPct = positive("max-growth-pct", values["max-growth-pct"])!;
/** Warm-up: this share of the run, and at least MIN_WARM_UP_S seconds. */
const WARM_UP = 0.1;
const MIN_WARM_UP_S = 5;

const REPO = join(import.meta.dir, "..");
const BUN = process.execPath;
const children = new Set<Bun.Subprocess>();
const cleanup = () => {
  for (const child of children) child.kill("SIGKILL");
};
process.on("SIGINT", () => (cleanup(), process.exit(130)));
process.on("SIGTERM", () => (cleanup(), process.exit(143)));

/** Spawns a server and resolves with the first `http://127.0.0.1:PORT` it prints after "listening on". */
async function spawnServer(name: string, cmd: string[], cwd: string): Promise<{ url: string; proc: Bun.Subprocess<"ignore", "pipe", "inherit"> }> {
  const proc = Bun.spawn(cmd, { cwd, stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  children.add(proc);
  const decoder = new TextDecoder();
  let printed = "";
  const reader = proc.stdout.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`${name} exited before listening:\n${printed}`);
    printed += decoder.decode(value, { stream: true });
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(printed)?.[1];
    if (url) {
      // Keep reading, so a chatty child never blocks on a full pipe.
      void (async () => {
        while (!(await reader.read()).done);
      })().catch(() => {});
      return { url, proc };
    }
  }
}

/** VmRSS of a process in MiB, or null once it is gone. */
function rssMb(pid: number): number | null {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The gateway and its provider

const dir = mkdtempSync(join(tmpdir(), "switchboard-soak-"));
const upstream = await spawnServer("bench/upstream.ts", [BUN, join(REPO, "bench/upstream.ts")], REPO);
const configFile = join(dir, "gateway.config.ts");
const dbFile = join(dir, "soak.db");
writeFileSync(
  configFile,
  `export default ${JSON.stringify(
    {
      server: { hostname: "127.0.0.1", port: 0 },
      storage: { sqlite: "./soak.db" },
      providers: { openai: { baseUrl: `${upstream.url}/v1` } },
      gateways: { default: { logs: { collect: true, payloads: true } } },
    },
    null,
    2,
  )};\n`,
);
const gateway = await spawnServer("gateway", [BUN, join(REPO, "src/main.ts"), "serve", "--config", configFile], dir);
const pid = gateway.proc.pid;
const base = `${gateway.url}/v1/local/default`;

// ---------------------------------------------------------------------------------------------
// Load

type Kind = "json" | "stream" | "compat" | "compat-stream" | "ws" | "ws-stream";
const HTTP_KINDS: Kind[] = ["json", "stream", "compat", "compat-stream"];
const messages = [{ role: "user", content: "Soak test: say something short." }];
const chat = (stream: boolean, model = "gpt-4o-mini") => JSON.stringify({ model, messages, stream });
const HTTP: Record<string, { url: string; body: string; stream: boolean }> = {
  json: { url: `${base}/openai/chat/completions`, body: chat(false), stream: false },
  stream: { url: `${base}/openai/chat/completions`, body: chat(true), stream: true },
  compat: { url: `${base}/compat/chat/completions`, body: chat(false, "openai/gpt-4o-mini"), stream: false },
  "compat-stream": { url: `${base}/compat/chat/completions`, body: chat(true, "openai/gpt-4o-mini"), stream: true },
};
const HEADERS = { "content-type": "application/json", authorization: "Bearer sk-soak" };

const counts: Record<Kind, number> = { json: 0, stream: 0, compat: 0, "compat-stream": 0, ws: 0, "ws-stream": 0 };
const logIds: string[] = [];
const errors: string[] = [];
let issued = 0;
let answered = 0;
const started = performance.now();
const deadline = durationS === undefined ? Infinity : started + durationS * 1000;
const more = () => issued < target && performance.now() < deadline;

function done(kind: Kind, logId: string | null): void {
  if (!logId) return fail(`${kind}: the answer has no log id`);
  counts[kind]++;
  answered++;
  logIds.push(logId);
}
function fail(what: string): void {
  if (errors.length < 20) errors.push(what);
  else errors.length++;
}

async function httpWorker(offset: number): Promise<void> {
  for (let i = offset; more(); i++) {
    issued++;
    const kind = HTTP_KINDS[i % HTTP_KINDS.length];
    const { url, body, stream } = HTTP[kind];
    try {
      const res = await fetch(url, { method: "POST", headers: HEADERS, body });
      const text = await res.text();
      if (res.status !== 200) fail(`${kind}: status ${res.status}: ${text.slice(0, 200)}`);
      else if (stream ? !text.endsWith("data: [DONE]\n\n") : !text.includes('"choices"')) fail(`${kind}: incomplete answer: ${text.slice(-200)}`);
      else done(kind, res.headers.get("cf-aig-log-id"));
    } catch (error) {
      fail(`${kind}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** One WebSocket with `inflight` requests outstanding, each answered before the next is sent on its slot. */
async function socketWorker(index: number, inflight: number): Promise<void> {
  const ws = new WebSocket(base.replace(/^http/, "ws"));
  const pending = new Map<string, { stream: boolean; frames: number; resolve(): void }>();
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error("the WebSocket did not open")), { once: true });
  });
  let closed = false;
  ws.addEventListener("close", (event) => {
    closed = true;
    for (const [eventId, request] of pending) {
      fail(`ws ${eventId}: the socket closed (${event.code})`);
      request.resolve();
    }
    pending.clear();
  });
  ws.addEventListener("message", (event) => {
    const frame = JSON.parse(String(event.data)) as { type: string; metadata: { eventId: string; logId?: string }; response?: unknown; error?: unknown };
    const request = pending.get(frame.metadata.eventId);
    if (!request) return fail(`ws: a frame for no request: ${String(event.data).slice(0, 200)}`);
    const kind: Kind = request.stream ? "ws-stream" : "ws";
    const finish = () => (pending.delete(frame.metadata.eventId), request.resolve());
    if (frame.type === "universal.error") return fail(`${kind}: ${JSON.stringify(frame.error).slice(0, 200)}`), finish();
    if (frame.type === "universal.stream") return void request.frames++;
    if (frame.type === "universal.created" && request.stream) return;
    if (frame.type === "universal.done" && request.frames === 0) fail(`${kind}: done without stream frames`);
    else done(kind, frame.metadata.logId ?? null);
    finish();
  });
  let n = 0;
  const slot = async () => {
    while (more() && !closed) {
      issued++;
      const stream = n % 2 === 1;
      const eventId = `s${index}-${n++}`;
      const answeredNow = Promise.withResolvers<void>();
      pending.set(eventId, { stream, frames: 0, resolve: answeredNow.resolve });
      const query = { model: "gpt-4o-mini", messages, stream };
      ws.send(JSON.stringify({ type: "universal.create", request: { eventId, provider: "openai", endpoint: "chat/completions", headers: { authorization: "Bearer sk-soak" }, query } }));
      await answeredNow.promise;
    }
  };
  await Promise.all(Array.from({ length: inflight }, slot));
  ws.close();
}

interface Sample {
  at: number;
  answered: number;
  rss: number;
}
const samples: Sample[] = [];
const sampler = setInterval(() => {
  const rss = rssMb(pid);
  if (rss !== null) samples.push({ at: (performance.now() - started) / 1000, answered, rss });
}, 1000);

const wsInFlight = Math.max(sockets, Math.round(concurrency / 4));
const httpWorkers = concurrency - wsInFlight;
const progress = setInterval(() => {
  const s = samples.at(-1);
  console.log(`  ${Math.round((performance.now() - started) / 1000)} s: ${answered} answered, ${errors.length} errors, RSS ${s ? s.rss.toFixed(1) : "?"} MiB`);
}, 10_000);
console.log(
  `soak: ${Number.isFinite(target) ? `${target} requests` : `${durationS} s`}, concurrency ${concurrency} (${httpWorkers} HTTP, ${sockets} WebSockets × ${(wsInFlight / sockets).toFixed(1)}), gateway pid ${pid}`,
);
await Promise.all([
  ...Array.from({ length: httpWorkers }, (_, i) => httpWorker(i)),
  ...Array.from({ length: sockets }, (_, i) => socketWorker(i, Math.floor(wsInFlight / sockets) + (i < wsInFlight % sockets ? 1 : 0))),
]);
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
clearInterval(progress);
const last = rssMb(pid);
if (last !== null) samples.push({ at: seconds, answered, rss: last });

// ---------------------------------------------------------------------------------------------
// Stop, then read the logs

gateway.proc.kill("SIGTERM");
const exitCode = await gateway.proc.exited;
children.delete(gateway.proc);
upstream.proc.kill("SIGKILL");
children.delete(upstream.proc);

let rows = 0;
let missing = 0;
{
  using db = new Database(dbFile, { readonly: true });
  const stored = new Set(db.query<{ id: string }, []>("SELECT id FROM logs").all().map((row) => row.id));
  rows = stored.size;
  for (const id of logIds) if (!stored.has(id)) missing++;
}
rmSync(dir, { recursive: true, force: true });

const warm = samples.find((s) => s.at >= MIN_WARM_UP_S && (Number.isFinite(target) ? s.answered >= target * WARM_UP : s.at >= durationS! * WARM_UP)) ?? samples[0];
const startRss = warm?.rss ?? NaN;
const endRss = samples.at(-1)?.rss ?? NaN;
const peakRss = Math.max(...samples.filter((s) => s.at >= (warm?.at ?? 0)).map((s) => s.rss));
const growth = endRss - startRss;
const allowed = Math.max(maxGrowthMb, (startRss * maxGrowthPct) / 100);
const failures: string[] = [];
if (errors.length > 0) failures.push(`${errors.length} requests failed`);
if (missing > 0) failures.push(`${missing} answered requests are missing from the logs`);
if (exitCode !== 0) failures.push(`the gateway exited with ${exitCode} on SIGTERM`);
if (!(growth <= allowed)) failures.push(`RSS grew ${growth.toFixed(1)} MiB after warm-up (limit ${allowed.toFixed(1)} MiB)`);

const mb = (n: number) => `${n.toFixed(1)} MiB`;
console.log(`soak: ${answered} answered in ${seconds.toFixed(1)} s (${Math.round(answered / seconds)} req/s), ${errors.length} errors`);
console.log(`  mix: ${Object.entries(counts).map(([kind, n]) => `${kind} ${n}`).join(", ")}`);
for (const error of errors.slice(0, 20)) console.log(`  error: ${error}`);
console.log(
  `  RSS: start ${mb(startRss)} (after warm-up: ${warm?.answered ?? 0} requests, ${warm?.at.toFixed(0) ?? 0} s), peak ${mb(peakRss)}, end ${mb(endRss)}; ` +
    `growth ${growth >= 0 ? "+" : ""}${mb(growth)} (limit +${mb(allowed)}: ${maxGrowthMb} MiB or ${maxGrowthPct}%)`,
);
console.log(`  logs: ${answered} answered, ${rows} rows, ${missing} missing; gateway exit code ${exitCode}`);
console.log(`soak: ${failures.length === 0 ? "PASS" : `FAIL: ${failures.join("; ")}`}`);
console.log(
  JSON.stringify({
    soak: {
      answered,
      seconds: Number(seconds.toFixed(2)),
      rps: Math.round(answered / seconds),
      errors: errors.length,
      mix: counts,
      rss: { start: Number(startRss.toFixed(1)), peak: Number(peakRss.toFixed(1)), end: Number(endRss.toFixed(1)), allowedGrowth: Number(allowed.toFixed(1)) },
      logs: { answered, rows, missing },
      exitCode,
      pass: failures.length === 0,
    },
  }),
);
process.exit(failures.length === 0 ? 0 : 1);
