/**
 * The targets: what each one starts and how it is loaded. What each measures is told in run.ts's doc
 * comment (the `--help` text). Adding a target (e.g. a gateway with logging off) is one entry in TARGETS.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { usage, type Settings } from "./args.ts";
import { startEngines } from "./engines.ts";
import { BUN, HERE, REPO, spawnServer, type Running } from "./processes.ts";
import { UNIVERSAL_BODY, WS_STEP } from "./requests.ts";

export interface Env {
  upstream: Running;
}
export interface Target {
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
export const REPLICAS = 2;

export const TARGETS: Target[] = [
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

/** The targets a run measures, in order, and those that cannot run here (printed under the table). */
export interface Selection {
  targets: Target[];
  unavailable: Map<string, string>;
}

/**
 * The targets named by --targets (or DEFAULT_TARGETS), then those --peers and --shared add. A target
 * that cannot run here is skipped with a line on stderr (a peer: listed as unavailable); one named in
 * --targets makes this return null (exit 1). An unknown name, or nothing to run, is a usage error.
 */
export function selectTargets(settings: Settings): Selection | null {
  const explicit = settings.targets !== undefined;
  const named = explicit ? settings.targets!.split(",").map((s) => s.trim()).filter(Boolean) : DEFAULT_TARGETS;
  const added = [...(settings.peers ? PEER_TARGETS : []), ...(settings.shared ? SHARED_TARGETS : [])];
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
      return null;
    }
    if (why && t.peer) {
      console.error(`bench: ${name} unavailable: ${why}`);
      unavailable.set(name, why);
    } else if (why) console.error(`bench: skipping ${name}: ${why} (pass --targets to make this an error)`);
    else targets.push(t);
  }
  if (!targets.length) usage("no targets to run");
  return { targets, unavailable };
}
