/**
 * `bun run bench` — how much does Switchboard cost on top of the least a Bun proxy can do?
 *
 *   bun bench/run.ts [--targets upstream,bare,gateway,…] [--peers] [--connections 1,32,128]
 *                    [--duration 5] [--warmup 1] [--rounds 1] [--delay 0] [--stream]
 *                    [--client raw|fetch] [--json out.json]
 *
 * Every process is separate (Bun.spawn) and binds 127.0.0.1 on a port the OS picks; each child
 * prints `listening on http://127.0.0.1:PORT` and this orchestrator reads it from its stdout.
 *   - upstream  bench/upstream.ts: a mock OpenAI chat completion (~650 B JSON with usage, or SSE
 *               chunks when the body has "stream":true), `--delay` ms before each response.
 *   - bare      bench/bare-proxy.ts: Bun.serve + fetch to the upstream, Response returned as is.
 *               This is the floor every ratio is taken against.
 *   - gateway   `bun src/main.ts serve --config <tmp>/gateway.config.ts`, logging with payloads
 *               to SQLite in a temp dir, requests to /v1/local/default/openai/chat/completions.
 *   - gateway-chain      the whole default chain switched on: auth (a config token, sent in
 *               cf-aig-authorization), cf-aig-metadata, a rate limit keyed on metadata:user that is
 *               never reached, cache on (ttl 300) with a different body every request (--unique),
 *               so every request is a MISS that hashes, looks up, goes upstream and writes; logs on.
 *   - gateway-cache-hit  cache on (ttl 300), logs on, the same body every time: after the first
 *               request every answer is a HIT and nothing goes upstream.
 *   These two check `cf-aig-cache-status` on every measured answer (all MISS / all HIT) and count a
 *   mismatch as an error: a target that does not measure what its name says is broken.
 *   - gateway-universal  the "gateway" config, the same request as step 0 of a two-step Universal
 *               array (POST /v1/local/default); step 0 answers, so it measures the Universal transport.
 *   - gateway-ws  the "gateway" config, the same request over ONE WebSocket (Universal API frames),
 *               with as many requests in flight as the connection count; compared with "gateway".
 *   - bare-stream, gateway-stream  the bare proxy and the "gateway" config, each asked for a streamed
 *               answer (`"stream":true` and `sse-events=20` in the user message: the mock sends exactly
 *               20 SSE events, one per write). load.ts also times the first body byte (--ttfb); a second
 *               table shows TTFB and total p50/p99 against bare-stream. One request before the load
 *               must get exactly 20 events ending with [DONE], else the target is broken.
 *   - portkey, portkey-stream  (--peers) a peer: Portkey's open-source gateway, the devDependency
 *               @portkey-ai/gateway, `bun --preload bench/portkey-preload.ts …/build/start-server.js
 *               --port=0 --headless` (the preload makes it listen on 127.0.0.1 and print its port;
 *               --headless: no web UI; it makes no outbound connection at start), routed to the mock by
 *               `x-portkey-provider: openai` and `x-portkey-custom-host: <mock>/v1`, POST
 *               /v1/chat/completions; the same JSON or 20-event stream. When it is not installed,
 *               does not start or does not answer a first request, an "unavailable: …" line is
 *               printed instead of its rows, and the exit code does not change.
 * Default targets: upstream, bare, gateway, gateway-chain, gateway-cache-hit, gateway-universal,
 * gateway-ws, bare-stream, gateway-stream. --peers adds portkey and portkey-stream (also with
 * --targets). Diagnostic ones (gateway-nolog, gateway-noplugins) run only with --targets.
 * Default connections: 1, 32 and 128 (the goals are judged at 1 and 32; 128 is reported). The
 * estimated run time is printed at the start — about 2¾ minutes for the default run (27 load
 * runs of 1 + 5 s), 3½ with --peers — and the actual one at the end.
 * For each connection count, round and target (targets interleaved, so drift on a shared machine
 * hits them alike), bench/load.ts runs as its own process: N keep-alive connections in a closed
 * loop posting the same JSON body (or, for --unique targets, one with a per-request number in it),
 * plus the target's own headers, a warm-up, then `--duration` seconds measured.
 *
 * The table shows req/s, p50 and p99 latency (ms, until the last body byte), errors, the ratio
 * of req/s to the bare proxy's and the p50/p99 difference from it in ms (for streaming rows: to
 * bare-stream's), the server's CPU time per request (µs, from /proc, the target's own process
 * only; the upstream's is in the JSON) and the load driver's CPU in cores. Rows with first-byte
 * times (streaming targets; every HTTP target under --stream) also appear in a second table:
 * ttfb p50/p99, total p50/p99 and the ttfb differences from their floor. Compare ratios within
 * one run: absolute numbers move with whatever else the (shared, 2-core) machine is doing. With --rounds > 1 the round with the median req/s
 * is shown per (target, connections); every round is in the JSON.
 *
 * Under the table, the performance targets from the issues (GOALS below) print as PASS/FAIL lines
 * when the rows they need were run: each is computed per round against the bare proxy's row (or
 * the goal's own reference row: bare-stream, gateway) of the same round, and the median over rounds is judged (the per-round values are printed too). A missed
 * goal is reported, not an error: it does not change the exit code.
 *
 * Exits 1 when any target returns errors (any non-2xx answer counts) or one of ours fails to start
 * (a peer that cannot is reported as unavailable), 2 on bad arguments.
 *
 * Adding a target (e.g. a gateway with logging off) is one entry in TARGETS below.
 */
import { parseArgs } from "node:util";
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

const HERE = import.meta.dir;
const REPO = resolve(HERE, "..");
const BUN = process.execPath;
const START_TIMEOUT_MS = 20_000;

// ---------------------------------------------------------------------------------------------
// Arguments

const { values: args } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    targets: { type: "string" },
    connections: { type: "string", default: "1,32,128" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    rounds: { type: "string", default: "1" },
    delay: { type: "string", default: "0" },
    stream: { type: "boolean", default: false },
    peers: { type: "boolean", default: false },
    client: { type: "string", default: "raw" },
    json: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  const src = readFileSync(import.meta.path, "utf8");
  console.log(src.slice(src.indexOf("/**") + 4, src.indexOf("*/")).replace(/^ \* ?/gm, ""));
  process.exit(0);
}
function usage(msg: string): never {
  console.error(`bench: ${msg} (see --help)`);
  process.exit(2);
}
const connectionsList = args.connections.split(",").map((s) => Number(s.trim()));
if (!connectionsList.length || connectionsList.some((c) => !Number.isInteger(c) || c < 1 || c > 1024))
  usage("--connections takes integers 1..1024, comma-separated");
const duration = Number(args.duration);
if (!(duration >= 0.5 && duration <= 600)) usage("--duration takes seconds, 0.5..600");
const warmup = Number(args.warmup);
if (!(warmup >= 0 && warmup <= 60)) usage("--warmup takes seconds, 0..60");
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) usage("--rounds takes 1..20");
const delay = Number(args.delay);
if (!(delay >= 0 && delay <= 60_000)) usage("--delay takes ms, 0..60000");
if (args.client !== "raw" && args.client !== "fetch") usage("--client is raw or fetch");

const BODY = JSON.stringify({
  model: "gpt-4o-mini",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Say hello to the benchmark in one short sentence." },
  ],
  max_tokens: 32,
  ...(args.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
});
/** Events in the answer to a `stream` target's request (role, content chunks, stop, usage, [DONE]). */
const STREAM_EVENTS = 20;
/**
 * The `stream` targets' body: BODY streaming, with `sse-events=20` in the user message, which the
 * mock reads (bench/upstream.ts) and every proxy passes on as is: exactly 20 events, one per write.
 */
const STREAM_BODY = JSON.stringify({
  ...JSON.parse(BODY),
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: `Say hello to the benchmark in one short sentence. [sse-events=${STREAM_EVENTS}]` },
  ],
  stream: true,
  stream_options: { include_usage: true },
});
/** For `unique` targets: the same request with `{{n}}`, which load.ts replaces per request. */
const UNIQUE_BODY = BODY.replace("in one short sentence.", "in one short sentence. #{{n}}");
if (UNIQUE_BODY === BODY) throw new Error("bench: UNIQUE_BODY has no {{n}}");
/**
 * The Universal target's body: two steps, the first of which answers, each carrying BODY as its query
 * and the provider key as a step header (the Universal call's own headers do not reach providers).
 */
const UNIVERSAL_BODY = JSON.stringify(
  ["openai", "openai"].map((provider) => ({ provider, endpoint: "chat/completions", headers: { authorization: "Bearer sk-bench" }, query: JSON.parse(BODY) })),
);
/** The WebSocket target's step: load.ts wraps it in a `universal.create` frame with its own eventId. */
const WS_STEP = JSON.stringify({ provider: "openai", endpoint: "chat/completions", headers: { authorization: "Bearer sk-bench" }, query: JSON.parse(BODY) });
/** Sent by every target, besides the target's own `headers`. */
const HEADERS = ["authorization: Bearer sk-bench"];

// ---------------------------------------------------------------------------------------------
// Child processes

interface Running {
  url: string;
  pid: number;
  /** Request headers this instance needs (e.g. Portkey's, which name the mock's URL). */
  headers?: Record<string, string>;
  stop(): Promise<void>;
}

const children = new Set<Subprocess>();

/** Drains a child's stream for its whole life (a full pipe would stall the child); keeps a tail. */
function drain(stream: ReadableStream<Uint8Array>, onLine?: (line: string) => void) {
  const tail: string[] = [];
  const decoder = new TextDecoder();
  let partial = "";
  (async () => {
    for await (const chunk of stream) {
      const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        onLine?.(line);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    }
  })().catch(() => {});
  return tail;
}

/** Spawns a server, waits for `http://127.0.0.1:PORT` on its stdout, returns it running. */
async function spawnServer(name: string, cmd: string[], cwd = REPO, env?: Record<string, string>): Promise<Running> {
  const proc = Bun.spawn(cmd, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  children.add(proc);
  let found: (url: string) => void;
  const urlSeen = new Promise<string>((r) => (found = r));
  const outTail = drain(proc.stdout, (line) => {
    const m = /http:\/\/127\.0\.0\.1:\d+/.exec(line);
    if (m) found(m[0]);
  });
  const errTail = drain(proc.stderr);
  let timer: Timer | undefined;
  const url = await Promise.race([
    urlSeen,
    proc.exited.then((code) => Promise.reject(new Error(`exited with code ${code}`))),
    new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`printed no URL within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    }),
  ])
    .catch(async (e: Error) => {
      proc.kill();
      await proc.exited;
      children.delete(proc);
      const tail = [...outTail, ...errTail].filter(Boolean).slice(-15).join("\n  ");
      throw new Error(`${name} ${e.message}${tail ? `:\n  ${tail}` : ""}`);
    })
    .finally(() => clearTimeout(timer));
  return {
    url,
    pid: proc.pid,
    async stop() {
      proc.kill();
      await Promise.race([proc.exited, Bun.sleep(3000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      children.delete(proc);
    },
  };
}

function killChildren() {
  for (const p of children) p.kill("SIGKILL");
  children.clear();
}
process.on("SIGINT", () => {
  killChildren();
  process.exit(130);
});
process.on("SIGTERM", () => {
  killChildren();
  process.exit(143);
});

// ---------------------------------------------------------------------------------------------
// Targets

interface Env {
  upstream: Running;
}
interface Target {
  name: string;
  /** Request path on the target's URL. */
  path: string;
  /** Extra request headers for this target (besides HEADERS). */
  headers?: Record<string, string>;
  /** Every request gets a different body (load.ts --unique with UNIQUE_BODY), so a cache never hits. */
  unique?: boolean;
  /** The request body, when not BODY. */
  body?: string;
  /** Load over one WebSocket (Universal API frames), as many requests in flight as the connection count. */
  websocket?: boolean;
  /** Every measured 2xx answer must carry this header with this value (case-insensitive); else errors. */
  expectHeader?: { name: string; value: string };
  /**
   * Sends STREAM_BODY (a 20-event SSE answer) and has load.ts time the first body byte too (--ttfb).
   * One request is made before the load, and it must answer exactly STREAM_EVENTS events.
   */
  stream?: boolean;
  /** The row whose req/s and latencies this one is compared with (rps/bare, Δbare). @default "bare" */
  baseline?: string;
  /**
   * Another gateway (--peers): one request must answer 2xx before the load; when it cannot be started
   * or does not answer, an "unavailable" line is printed instead of its row and the exit code is kept.
   */
  peer?: boolean;
  /** Why this target cannot run here, or null. Checked only when it is requested. */
  unavailable?(): string | null;
  start(env: Env): Promise<Running>;
}

/** A Switchboard gateway started from a temp dir with this `gateways.default` entry. */
function gatewayTarget(name: string, gateway: object, extra: object = {}): Target {
  const main = join(REPO, "src", "main.ts");
  return {
    name,
    path: "/v1/local/default/openai/chat/completions",
    unavailable: () => (existsSync(main) ? null : `${main} does not exist yet`),
    async start({ upstream }) {
      const dir = mkdtempSync(join(tmpdir(), `switchboard-bench-${name}-`));
      const config = {
        server: { hostname: "127.0.0.1", port: 0 },
        storage: { sqlite: "./bench.db" },
        // The held key is never used by requests (they carry their own); the semantic cache's embedding calls use it.
        providers: { openai: { baseUrl: `${upstream.url}/v1`, apiKey: "sk-bench-held" } },
        gateways: { default: gateway },
        ...extra,
      };
      const file = join(dir, "gateway.config.ts");
      writeFileSync(file, `export default ${JSON.stringify(config, null, 2)};\n`);
      try {
        const running = await spawnServer(name, [BUN, main, "serve", "--config", file], dir);
        return {
          ...running,
          async stop() {
            await running.stop();
            rmSync(dir, { recursive: true, force: true });
          },
        };
      } catch (e) {
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    },
  };
}

const DEFAULT_TARGETS = [
  "upstream", "bare", "gateway", "gateway-chain", "gateway-cache-hit", "gateway-universal", "gateway-ws", "bare-stream", "gateway-stream",
];
/** Added by --peers. */
const PEER_TARGETS = ["portkey", "portkey-stream"];

/** Portkey's open-source gateway (devDependency @portkey-ai/gateway), its Node build run by Bun. */
const PORTKEY_START = join(REPO, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
function portkeyTarget(name: string, stream: boolean): Target {
  return {
    name,
    path: "/v1/chat/completions",
    peer: true,
    stream,
    baseline: stream ? "bare-stream" : "bare",
    unavailable: () => (existsSync(PORTKEY_START) ? null : `${PORTKEY_START} is missing (bun install: @portkey-ai/gateway is a devDependency)`),
    async start({ upstream }) {
      // --port=0 and the preload: listen on 127.0.0.1, on a port the OS picks, and print it (see the
      // preload). --headless: no web UI routes. Nothing else is configured: no config, no cache, no
      // Redis, no logs sink. Its environment is ours minus what would change its behaviour.
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) {
        if (v !== undefined && !/^(REDIS_CONNECTION_STRING|TRUSTED_CUSTOM_HOSTS|PORT|NODE_ENV|ENVIRONMENT)$/.test(k)) env[k] = v;
      }
      const running = await spawnServer(
        name,
        [BUN, "--preload", join(HERE, "portkey-preload.ts"), PORTKEY_START, "--port=0", "--headless"],
        REPO,
        env,
      );
      // Portkey routes by headers: the provider, and the mock as the provider's base URL (127.0.0.1 is
      // on its default list of trusted custom hosts). The key goes as Authorization, like everywhere.
      return { ...running, headers: { "x-portkey-provider": "openai", "x-portkey-custom-host": `${upstream.url}/v1` } };
    },
  };
}

const BENCH_TOKEN = "bench-token-0123456789abcdef";
const LOGS_ON = { collect: true, payloads: true };

const TARGETS: Target[] = [
  // The shared mock itself; stopping it is the orchestrator's job, not this target's.
  { name: "upstream", path: "/v1/chat/completions", start: async ({ upstream }) => ({ ...upstream, stop: async () => {} }) },
  {
    name: "bare",
    path: "/v1/chat/completions",
    start: ({ upstream }) => spawnServer("bare", [BUN, join(HERE, "bare-proxy.ts"), "--upstream", upstream.url]),
  },
  gatewayTarget("gateway", { logs: LOGS_ON }),
  // Everything in the default chain switched on; the cache always misses (a new body each time).
  {
    ...gatewayTarget("gateway-chain", {
      logs: LOGS_ON,
      authentication: true,
      tokens: [BENCH_TOKEN],
      rateLimit: { limit: 1_000_000_000, interval: 60, key: "metadata:user" },
      cache: { ttl: 300 },
    }),
    headers: { "cf-aig-authorization": `Bearer ${BENCH_TOKEN}`, "cf-aig-metadata": '{"user":"bench","team":"perf"}' },
    unique: true,
    expectHeader: { name: "cf-aig-cache-status", value: "MISS" },
  },
  // The same body every time: after the first request every answer comes from the cache.
  {
    ...gatewayTarget("gateway-cache-hit", { logs: LOGS_ON, cache: { ttl: 300 } }),
    expectHeader: { name: "cf-aig-cache-status", value: "HIT" },
  },
  // The Universal endpoint: the same gateway and request as "gateway", as step 0 of a two-step array.
  { ...gatewayTarget("gateway-universal", { logs: LOGS_ON }), path: "/v1/local/default", body: UNIVERSAL_BODY },
  // The Universal API over one WebSocket, as many requests in flight as "gateway" has connections.
  { ...gatewayTarget("gateway-ws", { logs: LOGS_ON }), path: "/v1/local/default", body: WS_STEP, websocket: true },
  // Streaming: the same floor and gateway, each asked for a 20-event SSE answer; TTFB and total time.
  {
    name: "bare-stream",
    path: "/v1/chat/completions",
    stream: true,
    baseline: "bare-stream",
    start: ({ upstream }) => spawnServer("bare-stream", [BUN, join(HERE, "bare-proxy.ts"), "--upstream", upstream.url]),
  },
  { ...gatewayTarget("gateway-stream", { logs: LOGS_ON }), stream: true, baseline: "bare-stream" },
  // Peers (--peers): another gateway behind the same mock, with the same load.
  portkeyTarget("portkey", false),
  portkeyTarget("portkey-stream", true),
  // Diagnostic variants (run with --targets): where the gap to the floor goes.
  gatewayTarget("gateway-nolog", { logs: { collect: false } }),
  gatewayTarget("gateway-noplugins", {}, { plugins: [] }),
  // What the "budget" plugin adds: one gateway-wide budget that is never reached.
  gatewayTarget("gateway-budget", { logs: LOGS_ON, budgets: [{ usd: 1e9, interval: "1d", key: "gateway" }] }),
  // What the "guardrails" plugin adds: every prompt and answer string scanned by two detectors, nothing found.
  gatewayTarget("gateway-guardrails", { logs: LOGS_ON, guardrails: { rules: [{ detect: "email", action: "redact" }, { detect: "card", action: "block" }] } }, { plugins: ["guardrails", "logging"] }),
  // Semantic cache on every request a miss (new body each time): an embedding round trip to the mock, the
  // nearest-prompt search, then the upstream call and both writes.
  {
    ...gatewayTarget("gateway-semantic-miss", {
      logs: LOGS_ON,
      cache: { ttl: 300, semantic: { threshold: 0.95, embed: { provider: "openai", model: "text-embedding-3-small" } } },
    }),
    unique: true,
    expectHeader: { name: "cf-aig-cache-status", value: "MISS" },
  },
];

// ---------------------------------------------------------------------------------------------
// Measuring

const CLK_TCK = (() => {
  try {
    return Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far, or NaN where /proc is missing. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from #3 on
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime (#14), stime (#15)
  } catch {
    return NaN;
  }
}

interface LoadResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
  errors: number;
  n: number;
  total: number;
  seconds: number;
  driverCpu: number;
  statuses: Record<string, number>;
  errorSamples: string[];
  headerCounts?: Record<string, number>;
  /** With --ttfb (stream targets, or every HTTP target under --stream): ms to the first body byte. */
  ttfb_p50?: number;
  ttfb_p90?: number;
  ttfb_p99?: number;
  ttfb_mean?: number;
}
interface Row extends LoadResult {
  target: string;
  connections: number;
  round: number;
  /** Target server's CPU µs per completed request (its own process only). */
  serverUsPerReq: number;
  upstreamUsPerReq: number;
  /** Against the target's baseline row ("bare", or "bare-stream" for streaming targets). */
  vsBare?: Comparison;
  vsUpstream?: Comparison;
}
interface Comparison {
  against: string;
  rpsRatio: number;
  p50DeltaMs: number;
  p99DeltaMs: number;
  ttfbP50DeltaMs?: number;
  ttfbP99DeltaMs?: number;
}

/** The body a target sends. */
const bodyOf = (t: Target) => (t.unique ? UNIQUE_BODY : t.stream ? STREAM_BODY : (t.body ?? BODY));
/** Whether load.ts times the first body byte for this target. */
const timesTtfb = (t: Target) => !t.websocket && (!!t.stream || args.stream);

async function runLoad(t: Target, r: Running, connections: number): Promise<LoadResult> {
  const url = r.url + t.path;
  // A WebSocket target keeps `connections` requests in flight over one socket.
  const cmd = [BUN, join(HERE, "load.ts"), "--url", url, "--connections", t.websocket ? "1" : String(connections)];
  if (t.websocket) cmd.push("--inflight", String(connections));
  cmd.push("--duration", String(duration), "--warmup", String(warmup), "--client", t.websocket ? "ws" : args.client!);
  cmd.push("--body", bodyOf(t));
  if (t.unique) cmd.push("--unique");
  if (timesTtfb(t)) cmd.push("--ttfb");
  if (t.expectHeader) cmd.push("--count-header", t.expectHeader.name);
  for (const h of HEADERS) cmd.push("--header", h);
  for (const [k, v] of Object.entries({ ...t.headers, ...r.headers })) cmd.push("--header", `${k}: ${v}`);
  const proc = Bun.spawn(cmd, { cwd: REPO, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  children.add(proc);
  const killer = setTimeout(() => proc.kill("SIGKILL"), (warmup + duration + 30) * 1000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  clearTimeout(killer);
  children.delete(proc);
  const line = out.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as LoadResult;
  } catch {
    throw new Error(`load driver failed (exit ${proc.exitCode}): ${(err || out).trim().slice(-800)}`);
  }
}

/**
 * One request before the load, for `stream` and `peer` targets: it must answer 2xx and, for a stream
 * target, exactly STREAM_EVENTS SSE events ending with [DONE]. Returns what is wrong, or null.
 */
async function probe(t: Target, r: Running): Promise<string | null> {
  const headers: Record<string, string> = { "content-type": "application/json", ...t.headers, ...r.headers };
  for (const h of HEADERS) headers[h.slice(0, h.indexOf(":"))] = h.slice(h.indexOf(":") + 1).trim();
  try {
    const res = await fetch(r.url + t.path, { method: "POST", headers, body: bodyOf(t).replaceAll("{{n}}", "0"), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (!res.ok) return `a test request answered HTTP ${res.status}: ${text.slice(0, 300)}`;
    if (!t.stream) return null;
    const events = text.split(/\r?\n\r?\n/).filter((e) => /^data:/m.test(e));
    if (events.length !== STREAM_EVENTS || !/^data: ?\[DONE\]/m.test(events.at(-1) ?? ""))
      return `a test stream had ${events.length} SSE events, not ${STREAM_EVENTS} ending with [DONE] (content-type ${res.headers.get("content-type")})`;
    return null;
  } catch (e) {
    return `a test request failed: ${(e as Error).message}`;
  }
}

function machine() {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? model;
  } catch {}
  return { cpus: navigator.hardwareConcurrency, cpuModel: model, bun: Bun.version, os: `${process.platform} ${process.arch}`, loadavg: loadavg() };
}

// ---------------------------------------------------------------------------------------------
// Output

const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "-");
const signed = (x: number, d = 3) => (Number.isFinite(x) ? (x >= 0 ? "+" : "") + x.toFixed(d) : "-");

function grid(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

function table(rows: Row[]): string {
  const head = ["target", "conns", "req/s", "p50 ms", "p99 ms", "errors", "rps/bare", "p50 Δbare", "p99 Δbare", "srv µs/req", "driver cores"];
  const body = rows.map((r) => [
    r.target,
    String(r.connections),
    r.rps.toFixed(0),
    fmt(r.p50, 3),
    fmt(r.p99, 3),
    String(r.errors),
    r.vsBare ? fmt(r.vsBare.rpsRatio, 3) : "-",
    r.vsBare ? signed(r.vsBare.p50DeltaMs) : "-",
    r.vsBare ? signed(r.vsBare.p99DeltaMs) : "-",
    fmt(r.serverUsPerReq, 1),
    fmt(r.driverCpu, 2),
  ]);
  return grid(head, body);
}

/** The rows with first-byte times: total = until the last body byte, Δ = against the row's baseline. */
function streamTable(rows: Row[]): string {
  const head = ["target", "conns", "req/s", "ttfb p50", "ttfb p99", "total p50", "total p99", "ttfb p50 Δ", "ttfb p99 Δ", "against", "errors"];
  const body = rows.map((r) => [
    r.target,
    String(r.connections),
    r.rps.toFixed(0),
    fmt(r.ttfb_p50 ?? NaN, 3),
    fmt(r.ttfb_p99 ?? NaN, 3),
    fmt(r.p50, 3),
    fmt(r.p99, 3),
    signed(r.vsBare?.ttfbP50DeltaMs ?? NaN),
    signed(r.vsBare?.ttfbP99DeltaMs ?? NaN),
    r.vsBare?.against ?? "-",
    String(r.errors),
  ]);
  return grid(head, body);
}

/** Performance targets from the issues, checked against the rows shown (median rounds). */
interface Goal {
  target: string;
  connections: number;
  what: string;
  /** The row the figure is taken against. @default "bare" */
  against?: string;
  /** The measured figure, given the row and the `against` row (same connections, same round). */
  value(r: Row, against: Row): number;
  pass(x: number): boolean;
  show(x: number): string;
}
const GOALS: Goal[] = [
  {
    target: "gateway", connections: 32, what: "req/s ≥ 0.80 × bare",
    value: (r, b) => r.rps / b.rps, pass: (x) => x >= 0.8, show: (x) => `${x.toFixed(3)} × bare`,
  },
  {
    target: "gateway", connections: 1, what: "p50 ≤ bare + 0.100 ms",
    value: (r, b) => r.p50 - b.p50, pass: (x) => x <= 0.1, show: (x) => `${signed(x)} ms`,
  },
  {
    target: "gateway-chain", connections: 32, what: "req/s ≥ 0.75 × bare",
    value: (r, b) => r.rps / b.rps, pass: (x) => x >= 0.75, show: (x) => `${x.toFixed(3)} × bare`,
  },
  {
    target: "gateway-cache-hit", connections: 32, what: "req/s ≥ 1.5 × bare",
    value: (r, b) => r.rps / b.rps, pass: (x) => x >= 1.5, show: (x) => `${x.toFixed(3)} × bare`,
  },
  {
    target: "gateway-universal", connections: 32, what: "gateway CPU ≤ gateway's (provider route) + 5 µs/req", against: "gateway",
    value: (r, g) => r.serverUsPerReq - g.serverUsPerReq, pass: (x) => x <= 5, show: (x) => `${signed(x)} µs/req`,
  },
  {
    target: "gateway-stream", connections: 1, what: "TTFB p50 ≤ bare-stream's + 0.100 ms (20-event SSE answer)", against: "bare-stream",
    value: (r, b) => (r.ttfb_p50 ?? NaN) - (b.ttfb_p50 ?? NaN), pass: (x) => x <= 0.1, show: (x) => `${signed(x)} ms`,
  },
  {
    target: "gateway-ws", connections: 32, what: "req/s over 1 WebSocket × 32 in flight ≥ HTTP with 32 connections", against: "gateway",
    value: (r, g) => r.rps / g.rps, pass: (x) => x >= 1, show: (x) => `${x.toFixed(3)} × HTTP`,
  },
];

/**
 * Each goal is computed per round from the target's and the bare proxy's rows of that same round
 * (run back to back, so they saw the same machine), and the median over rounds is judged: on a
 * shared machine that is steadier than a ratio of the two independently chosen median rows.
 */
function checkGoals(all: Row[]) {
  const out: { target: string; connections: number; goal: string; value: number; perRound: number[]; pass: boolean; line: string }[] = [];
  for (const g of GOALS) {
    const perRound: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const at = (name: string) => all.find((x) => x.target === name && x.connections === g.connections && x.round === round);
      const r = at(g.target);
      const b = at(g.against ?? "bare");
      const x = r && b && b.rps > 0 ? g.value(r, b) : NaN;
      if (Number.isFinite(x)) perRound.push(x);
    }
    if (!perRound.length) continue;
    const sorted = [...perRound].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const value = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    const pass = g.pass(value);
    const spread = perRound.length > 1 ? ` (median of ${perRound.length} rounds: ${perRound.map((x) => g.show(x).split(" ")[0]).join(", ")})` : "";
    out.push({
      target: g.target, connections: g.connections, goal: g.what, value, perRound, pass,
      line: `${pass ? "PASS" : "FAIL"}  ${g.target} c=${g.connections}: ${g.what} — measured ${g.show(value)}${spread}`,
    });
  }
  return out;
}

const compare = (r: Row, base: Row | undefined): Comparison | undefined =>
  base && base.rps > 0
    ? {
        against: base.target,
        rpsRatio: r.rps / base.rps,
        p50DeltaMs: r.p50 - base.p50,
        p99DeltaMs: r.p99 - base.p99,
        ...(r.ttfb_p50 !== undefined && base.ttfb_p50 !== undefined
          ? { ttfbP50DeltaMs: r.ttfb_p50 - base.ttfb_p50, ttfbP99DeltaMs: r.ttfb_p99! - base.ttfb_p99! }
          : {}),
      }
    : undefined;

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const explicit = args.targets !== undefined;
  const named = explicit ? args.targets!.split(",").map((s) => s.trim()).filter(Boolean) : DEFAULT_TARGETS;
  const names = args.peers ? [...named, ...PEER_TARGETS.filter((p) => !named.includes(p))] : named;
  const targets: Target[] = [];
  /** Peers that could not run: printed under the table, no change to the exit code. */
  const unavailable = new Map<string, string>();
  for (const name of names) {
    const t = TARGETS.find((x) => x.name === name);
    if (!t) usage(`unknown target "${name}"; known: ${TARGETS.map((x) => x.name).join(", ")}`);
    const why = t.unavailable?.() ?? null;
    if (why && explicit && named.includes(name)) {
      console.error(`bench: target ${name} cannot run: ${why}`);
      return 1;
    }
    if (why && t.peer) {
      console.error(`bench: ${name} unavailable: ${why}`);
      unavailable.set(name, why);
    } else if (why) console.error(`bench: skipping ${name}: ${why} (pass --targets to make this an error)`);
    else targets.push(t);
  }
  if (!targets.length) usage("no targets to run");

  const info = machine();
  console.log(
    `machine: ${info.cpus} cpus, ${info.cpuModel}, bun ${info.bun}, ${info.os}, load ${info.loadavg.map((x) => x.toFixed(2)).join(" ")}`,
  );
  console.log(
    `run: targets ${targets.map((t) => t.name).join(",")}; connections ${connectionsList.join(",")}; ` +
      `${warmup}s warm-up + ${duration}s; rounds ${rounds}; upstream delay ${delay} ms; ${args.stream ? "streaming (SSE)" : "JSON"}; client ${args.client}`,
  );
  // Every (connections, round, target) is one load.ts run (≈ 0.1 s to spawn and report besides its
  // warm-up and duration); starting each server takes a fraction of a second more.
  const loads = connectionsList.length * rounds * targets.length;
  const estimate = loads * (warmup + duration + 0.1) + targets.length * 0.3;
  console.log(`estimated run time: ≈ ${Math.ceil(estimate)} s (${loads} load run${loads === 1 ? "" : "s"} of ${warmup}+${duration} s)`);
  const began = performance.now();

  const upstream = await spawnServer("upstream", [BUN, join(HERE, "upstream.ts"), "--delay", String(delay)]);
  const running = new Map<string, Running>();
  const all: Row[] = [];
  let failed = false;
  try {
    for (const t of targets) {
      let r: Running | undefined;
      try {
        r = await t.start({ upstream });
        running.set(t.name, r);
      } catch (e) {
        const msg = (e as Error).message;
        if (t.peer) {
          console.error(`bench: ${t.name} unavailable: ${msg}`);
          // One line under the table: the first of the message and the child's last error line.
          const lines = msg.split("\n").map((l) => l.trim());
          const err = lines.slice(1).reverse().find((l) => /error/i.test(l));
          unavailable.set(t.name, lines[0]!.replace(/:$/, "") + (err ? ` (${err})` : ""));
        } else {
          console.error(`bench: ${msg}`);
          failed = true;
        }
        continue;
      }
      if (!t.stream && !t.peer) continue;
      const wrong = await probe(t, r);
      if (!wrong) continue;
      running.delete(t.name);
      await r.stop();
      if (t.peer) {
        console.error(`bench: ${t.name} unavailable: ${wrong}`);
        unavailable.set(t.name, wrong);
      } else {
        console.error(`bench: ${t.name}: ${wrong}`);
        failed = true;
      }
    }
    for (const connections of connectionsList) {
      for (let round = 1; round <= rounds; round++) {
        for (const t of targets) {
          const r = running.get(t.name);
          if (!r) continue;
          const s0 = cpuSeconds(r.pid);
          const u0 = cpuSeconds(upstream.pid);
          const res = await runLoad(t, r, connections);
          if (t.expectHeader) {
            // Every measured 2xx answer must say what the target is about (e.g. all HITs).
            const want = t.expectHeader.value.toLowerCase();
            const counts = res.headerCounts ?? {};
            const wrong = Object.entries(counts).filter(([v]) => v !== want);
            const bad = wrong.reduce((a, [, c]) => a + c, 0);
            if (bad || !res.headerCounts) {
              res.errors += bad || 1;
              res.errorSamples.push(
                `${t.expectHeader.name} was not ${t.expectHeader.value} on ${bad} of ${res.n} measured answers ` +
                  `(${wrong.map(([v, c]) => `${v}: ${c}`).join(", ") || "not counted"})`,
              );
            }
          }
          const s1 = cpuSeconds(r.pid);
          const u1 = cpuSeconds(upstream.pid);
          const per = (d: number) => (res.total > 0 ? (d * 1e6) / res.total : NaN);
          all.push({ ...res, target: t.name, connections, round, serverUsPerReq: per(s1 - s0), upstreamUsPerReq: per(u1 - u0) });
          process.stderr.write(
            `  ${t.name} c=${connections} round ${round}: ${res.rps.toFixed(0)} req/s, p50 ${res.p50} ms` +
              `${res.ttfb_p50 !== undefined ? `, ttfb p50 ${res.ttfb_p50} ms` : ""}, errors ${res.errors}\n`,
          );
          if (res.errors) {
            failed = true;
            console.error(`bench: ${t.name} c=${connections}: ${res.errors} errors, e.g. ${res.errorSamples.join("; ")}`);
          }
        }
      }
    }
  } finally {
    for (const r of running.values()) await r.stop();
    await upstream.stop();
  }

  // One row per (connections, target): the round with the median req/s.
  const shown: Row[] = [];
  for (const connections of connectionsList) {
    for (const t of targets) {
      const rs = all.filter((r) => r.connections === connections && r.target === t.name).sort((a, b) => a.rps - b.rps);
      if (rs.length) shown.push(rs[Math.floor((rs.length - 1) / 2)]!);
    }
  }
  for (const r of shown) {
    const same = (name: string) => shown.find((x) => x.connections === r.connections && x.target === name);
    r.vsBare = compare(r, same(TARGETS.find((t) => t.name === r.target)?.baseline ?? "bare"));
    r.vsUpstream = compare(r, same("upstream"));
  }
  console.log("\n" + table(shown));
  const timed = shown.filter((r) => r.ttfb_p50 !== undefined);
  if (timed.length) {
    console.log(
      `\nfirst byte (${targets.some((t) => t.stream) ? `stream targets: a ${STREAM_EVENTS}-event SSE answer, one event per write` : "SSE answers"}; ms):\n` +
        streamTable(timed),
    );
  }
  if (unavailable.size) console.log("\n" + [...unavailable].map(([name, why]) => `${name}: unavailable: ${why}`).join("\n"));
  console.log(
    "\nrps/bare = req/s ÷ bare proxy's; Δbare = ms above the bare proxy (for *-stream rows: above bare-stream, the same floor" +
      "\nasked for the same stream); srv µs/req = the target process's CPU per request; driver cores = the load driver's own CPU;" +
      "\nttfb = until the first body byte, total = until the last. Compare within one run only." +
      `\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(" ")} (at the start: ${info.loadavg.map((x) => x.toFixed(2)).join(" ")});` +
      ` run time ${((performance.now() - began) / 1000).toFixed(0)} s`,
  );
  const goals = checkGoals(all);
  if (goals.length) console.log("\ntargets (from the issues; reported, not enforced):\n" + goals.map((g) => "  " + g.line).join("\n"));

  if (args.json) {
    const out = {
      date: new Date().toISOString(),
      machine: info,
      settings: {
        targets: targets.map((t) => ({
          name: t.name, path: t.path, headers: { ...t.headers, ...running.get(t.name)?.headers }, unique: !!t.unique,
          expectHeader: t.expectHeader, stream: !!t.stream, ttfb: timesTtfb(t), baseline: t.baseline ?? "bare", peer: !!t.peer,
        })),
        connections: connectionsList, duration, warmup, rounds, delay, stream: args.stream, peers: args.peers, client: args.client,
        body: BODY, uniqueBody: UNIQUE_BODY, streamBody: STREAM_BODY, streamEvents: STREAM_EVENTS, headers: HEADERS,
      },
      unavailable: Object.fromEntries(unavailable),
      results: shown,
      goals: goals.map(({ line: _, ...g }) => g),
      rounds: all,
    };
    writeFileSync(resolve(args.json), JSON.stringify(out, null, 2) + "\n");
    console.log(`wrote ${resolve(args.json)}`);
  }
  return failed ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`bench: ${(e as Error).stack ?? e}`);
} finally {
  killChildren();
}
process.exit(code);
