/**
 * `bun run bench` — how much does Switchboard cost on top of the least a Bun proxy can do?
 *
 *   bun bench/run.ts [--targets upstream,bare,gateway,…] [--peers] [--shared] [--connections 1,32,128]
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
 *   - gateway-sqlite-same, gateway-shared  (--shared) scale-out, issue 20: the gateway-chain config (token,
 *               metadata, a rate limit counted on every request, a cache MISS looked up and written on
 *               every request, logs with payloads) as ONE process on SQLite and in-process stores, and as
 *               TWO replicas — two `serve` processes started together from one config file with
 *               `storage: { postgres, redis }` — sharing a fresh PostgreSQL database (logs) and a Redis
 *               server (counters, cache, coalescing, breakers). bench/engines.ts starts both engines
 *               (the test suite's servers: loopback, free ports, temp dirs, PostgreSQL as `postgres`
 *               when root); without them installed the target prints "unavailable: …" and the exit
 *               code does not change. The load is split: one load.ts per replica, each with half the
 *               connections (at least one: c=1 is 1 + 1), started together; each replica's bodies carry
 *               its own digit before the number, so one replica's misses are not the other's HITs. The
 *               row's req/s is the sum, p50/p90/mean the request-weighted means of the two drivers',
 *               p99/max the higher; errors also count log records a replica dropped (`GET /health`)
 *               and any line a replica writes to stderr (it warns there when an engine fails and is
 *               then bypassed). Before its load, 20 requests one at a time under Redis MONITOR count
 *               the round trips per request. A third table shows per-replica req/s against the single
 *               process, the CPU per request of the replicas (all threads, and the JavaScript thread
 *               alone), of every PostgreSQL process and of Redis (from /proc), Redis commands
 *               (commandstats) and log rows per PostgreSQL transaction.
 *               How to read it on this machine: 2 cores carry the driver(s), the mock, the gateway
 *               process(es), PostgreSQL and Redis. One process on SQLite is capped by its JavaScript
 *               thread (about one core); two replicas plus two engines share the same 2 cores, so they
 *               cannot each go as fast as the one did — the goal (per-replica req/s ≥ 0.70 × single)
 *               measures this machine's cores as much as the gateway. The column that does not depend on
 *               them is "js × single": the single process's JavaScript-thread µs/req ÷ a replica's, i.e.
 *               a replica's req/s relative to the single process's if each had a core of its own; the
 *               engines' µs/req say what PostgreSQL and Redis need besides.
 *               Diagnostics (--targets only): gateway-shared-1 (one such process alone), gateway-redis-1
 *               and gateway-pg-1 (one process with only Redis, only PostgreSQL): where the extra CPU goes.
 * Default targets: upstream, bare, gateway, gateway-nolog (logging off: issue 17's "logging adds
 * ≤ 6 µs" is judged against it), gateway-chain, gateway-cache-hit, gateway-universal, gateway-ws,
 * bare-stream, gateway-stream. --peers adds portkey and portkey-stream, --shared
 * gateway-sqlite-same and gateway-shared (also with --targets). Other diagnostics (gateway-noplugins,
 * …) run only with --targets.
 * Default connections: 1, 32 and 128 (the goals are judged at 1 and 32; 128 is reported). The
 * estimated run time is printed at the start — about 3 minutes for the default run (30 load
 * runs of 1 + 5 s), 3¾ with --peers — and the actual one at the end.
 * For each connection count, round and target (targets interleaved, so drift on a shared machine
 * hits them alike), bench/load.ts runs as its own process: N keep-alive connections in a closed
 * loop posting the same JSON body (or, for --unique targets, one with a per-request number in it),
 * plus the target's own headers, a warm-up, then `--duration` seconds measured.
 *
 * A third table splits each target's `srv µs/req` by thread (bench/threads.ts: the JavaScript thread,
 * the log writer, the collector's helpers, the JIT, fetch's I/O thread, the rest), so a missed CPU
 * budget shows where the time went; the JSON has it per row as `threads`.
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
 * the goal's own reference row: bare-stream, gateway, gateway-sqlite-same) of the same round, and the median over rounds is judged (the per-round values are printed too). A missed
 * goal is reported, not an error: it does not change the exit code.
 *
 * Exits 1 when any target returns errors (any non-2xx answer counts) or one of ours fails to start
 * (a peer that cannot, or gateway-shared without PostgreSQL and Redis, is reported as unavailable),
 * 2 on bad arguments.
 *
 * Adding a target (e.g. a gateway with logging off) is one entry in TARGETS below.
 */
import { parseArgs } from "node:util";
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { engineCost, EnginesUnavailable, startEngines, type EngineCost, type SharedEngines } from "./engines.ts";
import { THREAD_GROUPS, threadCpu, threadUsPerRequest, type ThreadCpu } from "./threads.ts";

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
    shared: { type: "boolean", default: false },
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
  /** Several processes serving one config (gateway-shared): the load is split between them. */
  replicas?: Running[];
  /** The engines the replicas share; their CPU and commands are measured with each load run. */
  engines?: SharedEngines;
  /** Lines the process has written to stderr so far, and the last few (a gateway warns there when an engine fails). */
  stderr?(): { lines: number; tail: string[] };
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
  let errLines = 0;
  const errTail = drain(proc.stderr, () => errLines++);
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
    stderr: () => ({ lines: errLines, tail: errTail.slice(-3) }),
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
  /**
   * For a target served by several replicas: the single-process target it is compared with (same
   * config, SQLite and in-process stores) in the shared-storage table and its goal.
   */
  singleProcess?: string;
  /** Why this target cannot run here, or null. Checked only when it is requested. */
  unavailable?(): string | null;
  start(env: Env): Promise<Running>;
}

const MAIN = join(REPO, "src", "main.ts");
const mainMissing = () => (existsSync(MAIN) ? null : `${MAIN} does not exist yet`);

/** A temp dir holding a gateway.config.ts with this `gateways.default` entry (and `extra` top-level fields). */
function writeGatewayConfig(name: string, upstream: Running, gateway: object, extra: object = {}): { dir: string; file: string } {
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
  return { dir, file };
}

/** A Switchboard gateway started from a temp dir with this `gateways.default` entry. */
function gatewayTarget(name: string, gateway: object, extra: object = {}): Target {
  return {
    name,
    path: "/v1/local/default/openai/chat/completions",
    unavailable: mainMissing,
    async start({ upstream }) {
      const { dir, file } = writeGatewayConfig(name, upstream, gateway, extra);
      try {
        const running = await spawnServer(name, [BUN, MAIN, "serve", "--config", file], dir);
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

/**
 * `replicas` `serve` processes started at the same moment from one config file whose storage is a
 * fresh PostgreSQL database and a Redis server (bench/engines.ts), or only one of them (`use`); the
 * engines being absent throws EnginesUnavailable, which the orchestrator reports as "unavailable".
 */
function sharedGatewayTarget(
  name: string,
  gateway: object,
  { replicas: count = REPLICAS, use = ["postgres", "redis"] }: { replicas?: number; use?: ("postgres" | "redis")[] } = {},
): Target {
  return {
    name,
    path: "/v1/local/default/openai/chat/completions",
    unavailable: mainMissing,
    async start({ upstream }) {
      const engines = await startEngines();
      const storage = {
        sqlite: "./bench.db",
        ...(use.includes("postgres") ? { postgres: engines.postgresUrl } : {}),
        ...(use.includes("redis") ? { redis: engines.redisUrl } : {}),
      };
      const { dir, file } = writeGatewayConfig(name, upstream, gateway, { storage });
      const started = await Promise.allSettled(
        Array.from({ length: count }, (_, i) => spawnServer(`${name} replica ${i + 1}`, [BUN, MAIN, "serve", "--config", file], dir)),
      );
      const replicas = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
      const stop = async () => {
        await Promise.all(replicas.map((r) => r.stop()));
        await engines.close();
        rmSync(dir, { recursive: true, force: true });
      };
      const failed = started.find((s) => s.status === "rejected");
      if (failed) {
        await stop();
        throw failed.reason;
      }
      return { url: replicas[0]!.url, pid: replicas[0]!.pid, replicas, engines, stop };
    },
  };
}

const DEFAULT_TARGETS = [
  "upstream", "bare", "gateway", "gateway-nolog", "gateway-chain", "gateway-cache-hit", "gateway-universal", "gateway-ws", "bare-stream", "gateway-stream",
];
/** Added by --peers. */
const PEER_TARGETS = ["portkey", "portkey-stream"];
/** Added by --shared: one process on SQLite, and the same config as replicas on PostgreSQL and Redis. */
const SHARED_TARGETS = ["gateway-sqlite-same", "gateway-shared"];

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
/**
 * The whole default chain switched on, the cache always missing (a new body each time): every request
 * checks a token, counts a rate limit, looks up and writes the cache and is logged with payloads.
 */
const CHAIN_GATEWAY = {
  logs: LOGS_ON,
  authentication: true,
  tokens: [BENCH_TOKEN],
  rateLimit: { limit: 1_000_000_000, interval: 60, key: "metadata:user" },
  cache: { ttl: 300 },
};
/** What the CHAIN_GATEWAY targets add to every request, and check on every answer. */
const CHAIN_LOAD = {
  headers: { "cf-aig-authorization": `Bearer ${BENCH_TOKEN}`, "cf-aig-metadata": '{"user":"bench","team":"perf"}' },
  unique: true,
  expectHeader: { name: "cf-aig-cache-status", value: "MISS" },
};
/** Replicas of gateway-shared. */
const REPLICAS = 2;

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
  { ...gatewayTarget("gateway-chain", CHAIN_GATEWAY), ...CHAIN_LOAD },
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
  // Scale-out (issue 20): the gateway-chain config as one process on SQLite and in-process stores, and
  // as two replicas sharing PostgreSQL (logs) and Redis (counters, cache, coalescing, breakers).
  { ...gatewayTarget("gateway-sqlite-same", CHAIN_GATEWAY), ...CHAIN_LOAD },
  { ...sharedGatewayTarget("gateway-shared", CHAIN_GATEWAY), ...CHAIN_LOAD, singleProcess: "gateway-sqlite-same" },
  // Diagnostics (--targets): one such process alone — what a replica costs without sharing the cores
  // with a second one — and with only one of the engines, to see which of them the extra CPU goes to.
  { ...sharedGatewayTarget("gateway-shared-1", CHAIN_GATEWAY, { replicas: 1 }), ...CHAIN_LOAD, singleProcess: "gateway-sqlite-same" },
  { ...sharedGatewayTarget("gateway-redis-1", CHAIN_GATEWAY, { replicas: 1, use: ["redis"] }), ...CHAIN_LOAD, singleProcess: "gateway-sqlite-same" },
  { ...sharedGatewayTarget("gateway-pg-1", CHAIN_GATEWAY, { replicas: 1, use: ["postgres"] }), ...CHAIN_LOAD, singleProcess: "gateway-sqlite-same" },
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

/**
 * CPU seconds (user + system) a process has used so far, or NaN where /proc is missing. `mainThread`:
 * its main thread's only — for a Bun server, the JavaScript thread that also runs the HTTP server,
 * the one that caps its req/s (fetch's I/O, a log-writer Worker and the GC run on other threads).
 */
function cpuSeconds(pid: number, mainThread = false): number {
  try {
    const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, "utf8");
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
  /** The same, its main (JavaScript) thread only: 10⁶ ÷ this is the most req/s that thread could serve. */
  mainThreadUsPerReq: number;
  upstreamUsPerReq: number;
  /** `serverUsPerReq` split by thread (bench/threads.ts); single-process targets only. */
  threads?: ThreadCpu;
  /** Replicated targets (gateway-shared): each replica's share, from its own load driver and its own CPU. */
  replicas?: ReplicaRow[];
  /** Replicated targets: req/s ÷ the number of replicas. */
  perReplicaRps?: number;
  /** Replicated targets: what the shared PostgreSQL and Redis spent per request. */
  engines?: EngineCost;
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

/** `body`: the request body, when not the target's own (bodyOf). */
async function runLoad(t: Target, r: Running, connections: number, body = bodyOf(t)): Promise<LoadResult> {
  const url = r.url + t.path;
  // A WebSocket target keeps `connections` requests in flight over one socket.
  const cmd = [BUN, join(HERE, "load.ts"), "--url", url, "--connections", t.websocket ? "1" : String(connections)];
  if (t.websocket) cmd.push("--inflight", String(connections));
  cmd.push("--duration", String(duration), "--warmup", String(warmup), "--client", t.websocket ? "ws" : args.client!);
  cmd.push("--body", body);
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

// ---------------------------------------------------------------------------------------------
// Replicas (gateway-shared)

/** One replica's share of a load run. */
interface ReplicaRow {
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  total: number;
  /** This replica's CPU µs per request it completed: the whole process, and its main thread. */
  serverUsPerReq: number;
  mainThreadUsPerReq: number;
  /** Log records this replica wrote to PostgreSQL during the run (its `GET /health` stats.logs). */
  logsWritten: number;
}

/** `connections` split over `k` replicas as evenly as possible, at least one each (so c=1 is 1 + 1). */
const splitConnections = (c: number, k: number) => Array.from({ length: k }, (_, i) => Math.max(1, Math.floor(c / k) + (i < c % k ? 1 : 0)));

/** What a replica's `GET /health` says about its log writer, and which components have a fault open. */
async function replicaHealth(r: Running): Promise<{ written: number; dropped: number; components: string[] }> {
  try {
    const h = (await (await fetch(`${r.url}/health`, { signal: AbortSignal.timeout(5000) })).json()) as {
      faults?: { component: string }[];
      stats?: { logs?: { written?: number; dropped?: number } };
    };
    return {
      written: h.stats?.logs?.written ?? NaN,
      dropped: h.stats?.logs?.dropped ?? NaN,
      components: (h.faults ?? []).map((f) => f.component),
    };
  } catch {
    return { written: NaN, dropped: NaN, components: ["GET /health failed"] };
  }
}

/**
 * One LoadResult from the drivers of several replicas (one driver each, started together): counts,
 * req/s and driver CPU add up; p50, p90, mean and the TTFB p50/p90/mean are the request-weighted means
 * of the drivers' own (an approximation: each driver saw only its replica), p99 and max the highest.
 */
function mergeLoads(parts: LoadResult[]): LoadResult {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const add = (f: (p: LoadResult) => number) => parts.reduce((a, p) => a + f(p), 0);
  const weighted = (f: (p: LoadResult) => number | undefined) =>
    parts.some((p) => f(p) === undefined) ? undefined : n > 0 ? add((p) => f(p)! * p.n) / n : 0;
  const highest = (f: (p: LoadResult) => number | undefined) => (parts.some((p) => f(p) === undefined) ? undefined : Math.max(...parts.map((p) => f(p)!)));
  const counts = (f: (p: LoadResult) => Record<string, number> | undefined) => {
    if (parts.every((p) => !f(p))) return undefined;
    const out: Record<string, number> = {};
    for (const p of parts) for (const [k, v] of Object.entries(f(p) ?? {})) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const ttfb = parts[0]?.ttfb_p50 !== undefined;
  const ms = (x: number | undefined) => (x === undefined ? x : Math.round(x * 1000) / 1000);
  return {
    rps: add((p) => p.rps),
    p50: ms(weighted((p) => p.p50))!,
    p90: ms(weighted((p) => p.p90))!,
    p99: highest((p) => p.p99)!,
    mean: ms(weighted((p) => p.mean))!,
    max: highest((p) => p.max)!,
    errors: add((p) => p.errors),
    n,
    total: add((p) => p.total),
    seconds: Math.max(...parts.map((p) => p.seconds)),
    driverCpu: add((p) => p.driverCpu),
    statuses: counts((p) => p.statuses) ?? {},
    errorSamples: parts.flatMap((p) => p.errorSamples),
    headerCounts: counts((p) => p.headerCounts),
    ...(ttfb
      ? { ttfb_p50: ms(weighted((p) => p.ttfb_p50)), ttfb_p90: ms(weighted((p) => p.ttfb_p90)), ttfb_p99: highest((p) => p.ttfb_p99), ttfb_mean: ms(weighted((p) => p.ttfb_mean)) }
      : {}),
  };
}

/**
 * A load run against every replica at once, `connections` split between them, with what the
 * replicas and the engines spent meanwhile. Log records dropped (`GET /health`) and anything a
 * replica writes to stderr meanwhile (a gateway warns there when Redis or PostgreSQL fails or times
 * out, and then bypasses it: fewer round trips, a faster row) count as errors: the row would not
 * measure what its name says.
 */
async function runSharedLoad(t: Target, r: Running, connections: number) {
  const replicas = r.replicas!;
  const cpu0 = replicas.map((x) => cpuSeconds(x.pid));
  const js0 = replicas.map((x) => cpuSeconds(x.pid, true));
  const err0 = replicas.map((x) => x.stderr?.().lines ?? 0);
  const [h0, e0] = await Promise.all([Promise.all(replicas.map(replicaHealth)), r.engines!.sample()]);
  const shares = splitConnections(connections, replicas.length);
  // Each driver numbers its unique bodies from the clock, so two started together would send the same
  // bodies: a replica's digit in front of the number keeps them apart (else one replica's misses are
  // the other's HITs — the shared cache working, but not what the row measures). One byte longer.
  const body = (i: number) => bodyOf(t).replace("{{n}}", `${i + 1}{{n}}`);
  const parts = await Promise.all(replicas.map((x, i) => runLoad(t, x, shares[i]!, t.unique ? body(i) : bodyOf(t))));
  const cpu1 = replicas.map((x) => cpuSeconds(x.pid));
  const js1 = replicas.map((x) => cpuSeconds(x.pid, true));
  const [h1, e1] = await Promise.all([Promise.all(replicas.map(replicaHealth)), r.engines!.sample()]);
  const res = mergeLoads(parts);
  const dropped = h1.reduce((a, h, i) => a + h.dropped - h0[i]!.dropped, 0);
  if (dropped !== 0) {
    res.errors += Number.isFinite(dropped) ? dropped : 1;
    res.errorSamples.push(`replicas' GET /health: ${dropped} log records dropped; faults open: ${[...new Set(h1.flatMap((h) => h.components))].join(", ") || "none"}`);
  }
  for (const [i, x] of replicas.entries()) {
    const err = x.stderr?.();
    if (!err || err.lines === err0[i]) continue;
    res.errors += err.lines - err0[i]!;
    res.errorSamples.push(`replica ${i + 1} wrote ${err.lines - err0[i]!} stderr lines, the last: ${err.tail.join(" | ").slice(0, 400)}`);
  }
  const perReq = (d: number, total: number) => (total > 0 ? (d * 1e6) / total : NaN);
  const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
  const replicaRows: ReplicaRow[] = parts.map((p, i) => ({
    connections: shares[i]!,
    rps: p.rps,
    p50: p.p50,
    p99: p.p99,
    total: p.total,
    serverUsPerReq: perReq(cpu1[i]! - cpu0[i]!, p.total),
    mainThreadUsPerReq: perReq(js1[i]! - js0[i]!, p.total),
    logsWritten: h1[i]!.written - h0[i]!.written,
  }));
  return {
    res,
    serverUsPerReq: perReq(sum(cpu1) - sum(cpu0), res.total),
    mainThreadUsPerReq: perReq(sum(js1) - sum(js0), res.total),
    replicas: replicaRows,
    perReplicaRps: res.rps / replicas.length,
    engines: engineCost(e0, e1, res.total),
  };
}

/** Requests sent one at a time under `MONITOR` before the load (after as many untraced ones). */
const TRACED_REQUESTS = 20;

/**
 * Redis round trips per request, counted exactly: TRACED_REQUESTS requests one after the other,
 * alternating between the replicas, under Redis `MONITOR` (commandstats cannot tell a command sent
 * by a client from one run inside a script). Each body is new, as under the load.
 */
async function traceRoundTrips(t: Target, r: Running): Promise<{ requests: number; sent: Record<string, number>; inScripts: Record<string, number> }> {
  const replicas = r.replicas ?? [r];
  const headers: Record<string, string> = { "content-type": "application/json", ...t.headers };
  for (const h of HEADERS) headers[h.slice(0, h.indexOf(":"))] = h.slice(h.indexOf(":") + 1).trim();
  let i = 0;
  const one = async () => {
    const at = replicas[i % replicas.length]!;
    const res = await fetch(at.url + t.path, { method: "POST", headers, body: bodyOf(t).replaceAll("{{n}}", `trace-${Date.now()}-${i++}`), signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`a traced request answered HTTP ${res.status}`);
  };
  for (let k = 0; k < TRACED_REQUESTS; k++) await one(); // scripts loaded, connections warm
  const trace = await r.engines!.traceRedis(async () => {
    for (let k = 0; k < TRACED_REQUESTS; k++) await one();
  });
  const per = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v / TRACED_REQUESTS]));
  return { requests: TRACED_REQUESTS, sent: per(trace.sent), inScripts: per(trace.inScripts) };
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

/** `srv µs/req` split by thread group: what a target's own process spent per request, and where. */
function threadTable(rows: Row[]): string {
  const head = ["target", "conns", "srv µs/req", ...THREAD_GROUPS];
  const body = rows.map((r) => [r.target, String(r.connections), fmt(r.serverUsPerReq, 1), ...THREAD_GROUPS.map((g) => fmt(r.threads?.[g] ?? 0, 1))]);
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

/** Redis round trips per request of one target, counted under MONITOR before its load (traceRoundTrips). */
type Trace = Awaited<ReturnType<typeof traceRoundTrips>>;

/**
 * The replicated rows next to their single-process rows (same connections, median rounds): req/s in
 * all and per replica, and where the CPU of a request goes — the gateway processes' (all threads, and
 * the JavaScript thread alone), PostgreSQL's and Redis' (every process of each, from /proc) — with
 * the round trips to Redis and the rows per PostgreSQL transaction.
 */
function sharedTable(rows: Row[], traces: Map<string, Trace>): string {
  const head = [
    "target", "conns", "req/s", "per replica", "replicas", "× single", "srv µs/req", "js µs/req", "pg µs/req", "redis µs/req",
    "total µs/req", "js × single", "redis rt/req", "redis cmds/req", "log rows/tx",
  ];
  const body: string[][] = [];
  const singleOf = (r: Row) => rows.find((x) => x.connections === r.connections && x.target === TARGETS.find((t) => t.name === r.target)?.singleProcess);
  const sum = (m: Record<string, number>) => Object.values(m).reduce((a, v) => a + v, 0);
  const listed = new Set<Row>();
  for (const r of rows.filter((x) => x.replicas)) {
    const single = singleOf(r);
    for (const x of single ? [single, r] : [r]) {
      if (listed.has(x)) continue;
      listed.add(x);
      const e = x.engines;
      const trace = traces.get(x.target);
      const perReplica = x.perReplicaRps ?? x.rps;
      body.push([
        x.target,
        String(x.connections),
        x.rps.toFixed(0),
        perReplica.toFixed(0),
        x.replicas ? x.replicas.map((y) => `${y.rps.toFixed(0)}@${y.connections}`).join(" + ") : "1 process",
        single ? fmt(perReplica / single.rps, 3) : "-",
        fmt(x.serverUsPerReq, 1),
        fmt(x.mainThreadUsPerReq, 1),
        e ? fmt(e.postgresUsPerReq, 1) : "-",
        e ? fmt(e.redisUsPerReq, 1) : "-",
        fmt(x.serverUsPerReq + (e ? e.postgresUsPerReq + e.redisUsPerReq : 0), 1),
        single ? fmt(single.mainThreadUsPerReq / x.mainThreadUsPerReq, 3) : "-",
        trace ? fmt(sum(trace.sent), 2) : "-",
        e ? fmt(e.redisCommandsPerReq, 2) : "-",
        e ? fmt(e.logRowsPerCommit, 1) : "-",
      ]);
    }
  }
  const list = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(", ") || "none";
  const notes = [
    ...[...traces].map(([name, x]) => `redis round trips of ${name} (MONITOR, ${x.requests} requests one at a time): ${list(x.sent)}; inside scripts: ${list(x.inScripts)}`),
    ...rows.filter((x) => x.engines).map((x) => `redis commands of ${x.target} c=${x.connections} under the load (commandstats): ${list(x.engines!.redisCommands)}; Redis' own execution ${fmt(x.engines!.redisExecUsPerReq, 1)} µs/req`),
  ];
  return [
    grid(head, body),
    ...notes,
    "per replica = req/s ÷ replicas (the goal's figure), × single = that ÷ the single process's req/s; srv µs/req = the gateway",
    "processes' CPU per request (all threads), js µs/req = their JavaScript thread's alone, the one that caps a process's req/s;",
    "pg / redis µs/req = every PostgreSQL / Redis process's CPU per request; total = srv + pg + redis. js × single = the single",
    "process's js µs/req ÷ the replicas': the per-replica req/s, relative to the single process's, if every JavaScript thread had",
    "a core of its own — the reading that does not depend on this machine's 2 cores being shared by everything. redis rt/req =",
    "commands the gateway sends (round trips), redis cmds/req = commands Redis runs, scripts' own calls included. log rows/tx =",
    "rows per PostgreSQL transaction (its counters are published once a second: they lag the load by up to that).",
  ].join("\n");
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
  // Issue 17's budgets: gateway CPU per request (all threads) first, req/s against the floor second.
  {
    target: "gateway", connections: 32, what: "logging adds ≤ 6 µs/req of CPU to the same gateway with logging off", against: "gateway-nolog",
    value: (r, n) => r.serverUsPerReq - n.serverUsPerReq, pass: (x) => x <= 6, show: (x) => `${signed(x)} µs/req`,
  },
  {
    target: "gateway", connections: 32, what: "req/s ≥ 0.80 × bare",
    value: (r, b) => r.rps / b.rps, pass: (x) => x >= 0.8, show: (x) => `${x.toFixed(3)} × bare`,
  },
  {
    target: "gateway-chain", connections: 32, what: "CPU ≤ the logging gateway's + 15 µs/req (every request a cache miss)", against: "gateway",
    value: (r, g) => r.serverUsPerReq - g.serverUsPerReq, pass: (x) => x <= 15, show: (x) => `${signed(x)} µs/req`,
  },
  {
    target: "gateway-chain", connections: 32, what: "req/s ≥ 0.75 × bare",
    value: (r, b) => r.rps / b.rps, pass: (x) => x >= 0.75, show: (x) => `${x.toFixed(3)} × bare`,
  },
  {
    target: "gateway-cache-hit", connections: 32, what: "CPU ≤ 0.6 × the bare proxy's",
    value: (r, b) => r.serverUsPerReq / b.serverUsPerReq, pass: (x) => x <= 0.6, show: (x) => `${x.toFixed(3)} × bare`,
  },
  {
    target: "gateway-cache-hit", connections: 32, what: "req/s ≥ 1.5 × bare",
    value: (r, b) => r.rps / b.rps, pass: (x) => x >= 1.5, show: (x) => `${x.toFixed(3)} × bare`,
  },
  ...["gateway", "gateway-chain", "gateway-cache-hit", "gateway-universal", "gateway-ws"].map(
    (target): Goal => ({
      target, connections: 1, what: "p50 ≤ bare + 0.030 ms",
      value: (r, b) => r.p50 - b.p50, pass: (x) => x <= 0.03, show: (x) => `${signed(x)} ms`,
    }),
  ),
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
  {
    target: "gateway-shared", connections: 32, against: "gateway-sqlite-same",
    what: `per-replica req/s (${REPLICAS} replicas, Redis counters and cache, PostgreSQL logs) ≥ 0.70 × one process on SQLite`,
    value: (r, s) => (r.perReplicaRps ?? NaN) / s.rps, pass: (x) => x >= 0.7, show: (x) => `${x.toFixed(3)} × single`,
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
  const added = [...(args.peers ? PEER_TARGETS : []), ...(args.shared ? SHARED_TARGETS : [])];
  const names = [...named, ...added.filter((p) => !named.includes(p))];
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
  /** Redis round trips per request of the targets on Redis, traced before the load. */
  const traces = new Map<string, Trace>();
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
        if (e instanceof EnginesUnavailable) {
          console.error(`bench: ${t.name} unavailable: ${msg}`);
          unavailable.set(t.name, msg);
        } else if (t.peer) {
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
      if (r.engines) {
        try {
          traces.set(t.name, await traceRoundTrips(t, r));
        } catch (e) {
          console.error(`bench: ${t.name}: ${(e as Error).message}`);
          failed = true;
          running.delete(t.name);
          await r.stop();
          continue;
        }
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
          const m0 = cpuSeconds(r.pid, true);
          const u0 = cpuSeconds(upstream.pid);
          const t0 = r.replicas ? null : threadCpu(r.pid, CLK_TCK);
          const shared = r.replicas ? await runSharedLoad(t, r, connections) : null;
          const res = shared?.res ?? (await runLoad(t, r, connections));
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
          const m1 = cpuSeconds(r.pid, true);
          const u1 = cpuSeconds(upstream.pid);
          const threads = t0 ? threadUsPerRequest(t0, threadCpu(r.pid, CLK_TCK), res.total) : undefined;
          const per = (d: number) => (res.total > 0 ? (d * 1e6) / res.total : NaN);
          all.push({
            ...res, target: t.name, connections, round, serverUsPerReq: per(s1 - s0), mainThreadUsPerReq: per(m1 - m0), upstreamUsPerReq: per(u1 - u0), threads,
            ...(shared
              ? { serverUsPerReq: shared.serverUsPerReq, mainThreadUsPerReq: shared.mainThreadUsPerReq, replicas: shared.replicas, perReplicaRps: shared.perReplicaRps, engines: shared.engines }
              : {}),
          });
          process.stderr.write(
            `  ${t.name} c=${connections} round ${round}: ${res.rps.toFixed(0)} req/s` +
              `${shared ? ` (${shared.replicas.map((x) => x.rps.toFixed(0)).join(" + ")})` : ""}, p50 ${res.p50} ms` +
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
  if (shown.some((r) => r.replicas)) {
    console.log(
      "\nshared storage (replicas started from one config on PostgreSQL and/or Redis, the connections split between them;" +
        " vs one process on SQLite):\n" + sharedTable(shown, traces),
    );
  }
  const timed = shown.filter((r) => r.ttfb_p50 !== undefined);
  if (timed.length) {
    console.log(
      `\nfirst byte (${targets.some((t) => t.stream) ? `stream targets: a ${STREAM_EVENTS}-event SSE answer, one event per write` : "SSE answers"}; ms):\n` +
        streamTable(timed),
    );
  }
  const split = shown.filter((r) => r.threads && Object.keys(r.threads).length > 0 && r.target !== "upstream");
  if (split.length) console.log("\nwhere the CPU goes (srv µs/req by thread, bench/threads.ts):\n" + threadTable(split));
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
          replicas: running.get(t.name)?.replicas?.length ?? 1, singleProcess: t.singleProcess,
        })),
        connections: connectionsList, duration, warmup, rounds, delay, stream: args.stream, peers: args.peers, shared: args.shared, client: args.client,
        body: BODY, uniqueBody: UNIQUE_BODY, streamBody: STREAM_BODY, streamEvents: STREAM_EVENTS, headers: HEADERS,
      },
      unavailable: Object.fromEntries(unavailable),
      redisRoundTrips: Object.fromEntries(traces),
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
