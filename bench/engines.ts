/**
 * PostgreSQL and Redis for the bench's shared-storage target (`gateway-shared` in bench/targets.ts), and
 * what they cost: CPU of every engine process from /proc, Redis commands from `INFO commandstats`.
 *
 * The servers are the test suite's (test/support/engines.ts): started once per process on loopback,
 * on free ports, in temp dirs, from the Debian packages (`postgresql`, `redis-server`), PostgreSQL as
 * the `postgres` user when we are root, and removed once this process has gone (`SWITCHBOARD_TEST_POSTGRES`
 * / `SWITCHBOARD_TEST_REDIS` point them at servers someone else runs; their CPU is then not ours to
 * read and shows as NaN). That helper runs PostgreSQL with `fsync=off`: the log writer commits off
 * the request path, so this flatters PostgreSQL's disk, not the gateway's throughput.
 *
 * @example
 * const engines = await startEngines();             // throws EnginesUnavailable when not installed
 * const before = await engines.sample();
 * // … load …
 * const cost = engineCost(before, await engines.sample(), requests);
 * cost.redisCommands;        // e.g. { evalsha: 5, get: 5, set: 3, … }: what Redis ran, scripts' own calls included
 * const trace = await engines.traceRedis(() => sendTenRequests()); // trace.sent: the round trips
 */
import { readdirSync, readFileSync } from "node:fs";
import { postgres, redisServer } from "../test/support/engines.ts";

/** The engines are not installed (or cannot start): the target reports "unavailable", not an error. */
export class EnginesUnavailable extends Error {
  override readonly name = "EnginesUnavailable";
}

/** Counters of both engines at one moment; {@link engineCost} turns two of them into per-request figures. */
export interface EngineSample {
  /** CPU seconds (user + system) of the postmaster, every process it runs now, and the children it has reaped. */
  postgresCpu: number;
  /** CPU seconds of the Redis server (all its threads). */
  redisCpu: number;
  /** Redis `INFO commandstats`: calls per command (lower-case), our own `info` left out. */
  redisCalls: Record<string, number>;
  /** Redis' own time executing those commands, µs (the `usec` of commandstats, summed). */
  redisUsec: number;
  /** Transactions committed in the bench's database (`pg_stat_database.xact_commit`). */
  postgresCommits: number;
  /** Rows inserted into `logs` (`pg_stat_user_tables.n_tup_ins`). */
  postgresLogRows: number;
}

/** What the engines spent between two samples, per completed request. */
export interface EngineCost {
  postgresUsPerReq: number;
  redisUsPerReq: number;
  redisCommandsPerReq: number;
  /** Commands per request by command, e.g. `{ evalsha: 1, get: 1, set: 1 }`. */
  redisCommands: Record<string, number>;
  /** Redis' own command execution time per request (part of redisUsPerReq; the rest is network I/O). */
  redisExecUsPerReq: number;
  /** PostgreSQL transactions per request (one per log batch, unless something else writes or reads). */
  postgresCommitsPerReq: number;
  /** Rows inserted into `logs` per transaction: the log writer's batch size. */
  logRowsPerCommit: number;
}

/** Redis commands seen by `MONITOR`: sent by clients (each a round trip), and run inside scripts. */
export interface RedisTrace {
  sent: Record<string, number>;
  inScripts: Record<string, number>;
}

export interface SharedEngines {
  /** A fresh, empty PostgreSQL database for this run. */
  postgresUrl: string;
  redisUrl: string;
  sample(): Promise<EngineSample>;
  /**
   * The Redis commands run while `work` runs (and until Redis has been quiet for 200 ms after it, so
   * writes made after a response are in). `MONITOR` slows Redis down: use it on a few requests, never
   * under the measured load.
   */
  traceRedis(work: () => Promise<void>): Promise<RedisTrace>;
  close(): Promise<void>;
}

/**
 * Starts (or reuses, within this process) PostgreSQL and Redis and makes a fresh database. Throws
 * {@link EnginesUnavailable} when either is not installed, does not start or does not answer.
 */
export async function startEngines(): Promise<SharedEngines> {
  try {
    return await open();
  } catch (e) {
    if (e instanceof EnginesUnavailable) throw e;
    throw new EnginesUnavailable(`PostgreSQL or Redis cannot be used: ${(e as Error).message.split("\n")[0]}`);
  }
}

async function open(): Promise<SharedEngines> {
  const [pg, redis] = await Promise.all([postgres(), redisServer()]);
  if (!pg || !redis) {
    const missing = [!pg && "PostgreSQL (Debian package postgresql)", !redis && "Redis (Debian package redis-server)"].filter(Boolean);
    throw new EnginesUnavailable(`${missing.join(" and ")} not installed`);
  }
  const postgresUrl = await pg.database();
  const postmaster = ownProcess(procStat(await backendPid(postgresUrl))?.ppid ?? -1, "postgres");
  const client = new Bun.RedisClient(redis.url, { autoReconnect: false });
  const sql = new Bun.SQL(postgresUrl, { max: 1 });
  try {
    const redisPid = ownProcess(Number(/process_id:(\d+)/.exec(String(await client.send("INFO", ["server"])))?.[1]), "redis");
    return {
      postgresUrl,
      redisUrl: redis.url,
      async sample() {
        const stats = String(await client.send("INFO", ["commandstats"]));
        const redisCalls: Record<string, number> = {};
        let redisUsec = 0;
        for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
          if (m[1] === "info") continue;
          redisCalls[m[1]!] = Number(m[2]);
          redisUsec += Number(m[3]);
        }
        // Backends publish their counters at most once a second: these lag the load by up to that much.
        const [row] = await sql<{ commits: string; rows: string }[]>`SELECT
          (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
          (SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables WHERE relname = 'logs') AS rows`;
        return {
          postgresCpu: treeCpu(postmaster),
          redisCpu: procStat(redisPid)?.cpu ?? NaN,
          redisCalls,
          redisUsec,
          postgresCommits: Number(row?.commits ?? NaN),
          postgresLogRows: Number(row?.rows ?? NaN),
        };
      },
      traceRedis: (work) => traceRedis(redis.url, work),
      async close() {
        client.close();
        await sql.close();
      },
    };
  } catch (e) {
    client.close();
    await sql.close();
    throw e;
  }
}

/** See {@link SharedEngines.traceRedis}: a connection of its own in MONITOR mode, lines counted by command. */
async function traceRedis(url: string, work: () => Promise<void>): Promise<RedisTrace> {
  const { hostname, port } = new URL(url);
  const trace: RedisTrace = { sent: {}, inScripts: {} };
  const started = Promise.withResolvers<void>();
  let partial = "";
  let lines = 0;
  const socket = await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      data(_s, chunk) {
        const all = (partial + chunk.toString()).split("\r\n");
        partial = all.pop() ?? "";
        for (const line of all) {
          if (line === "+OK") started.resolve();
          // +1795806375.856684 [0 127.0.0.1:49888] "GET" "key"   or   [0 lua] for a script's own calls
          const m = /^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
          if (!m) continue;
          lines++;
          const into = m[1] === "lua" ? trace.inScripts : trace.sent;
          const cmd = m[2]!.toLowerCase();
          into[cmd] = (into[cmd] ?? 0) + 1;
        }
      },
      close() {
        started.reject(new Error("Redis closed the MONITOR connection"));
      },
    },
  });
  try {
    socket.write("MONITOR\r\n");
    const timer = setTimeout(() => started.reject(new Error("Redis did not start MONITOR within 5 s")), 5000);
    await started.promise.finally(() => clearTimeout(timer));
    await work();
    const deadline = Date.now() + 5000;
    for (let seen = -1, quietSince = Date.now(); Date.now() - quietSince < 200 && Date.now() < deadline; ) {
      if (lines !== seen) [seen, quietSince] = [lines, Date.now()];
      await Bun.sleep(20);
    }
  } finally {
    socket.end();
  }
  return trace;
}

/** The pid of the backend serving one connection: its parent is the postmaster. */
async function backendPid(url: string): Promise<number> {
  const sql = new Bun.SQL(url, { max: 1 });
  try {
    const [row] = await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
    return Number(row?.pid);
  } finally {
    await sql.close();
  }
}

/** The engines' cost per request between two samples (`requests` completed in between). */
export function engineCost(a: EngineSample, b: EngineSample, requests: number): EngineCost {
  const per = (x: number) => (requests > 0 ? x / requests : NaN);
  // Less the sample's own query: one transaction, counted by the next sample.
  const commits = b.postgresCommits - a.postgresCommits - 1;
  const redisCommands: Record<string, number> = {};
  let calls = 0;
  for (const [cmd, n] of Object.entries(b.redisCalls)) {
    const d = n - (a.redisCalls[cmd] ?? 0);
    if (d <= 0) continue;
    redisCommands[cmd] = Math.round(per(d) * 1000) / 1000;
    calls += d;
  }
  return {
    postgresUsPerReq: per((b.postgresCpu - a.postgresCpu) * 1e6),
    redisUsPerReq: per((b.redisCpu - a.redisCpu) * 1e6),
    redisCommandsPerReq: per(calls),
    redisCommands,
    redisExecUsPerReq: per(b.redisUsec - a.redisUsec),
    postgresCommitsPerReq: per(commits),
    logRowsPerCommit: commits > 0 ? (b.postgresLogRows - a.postgresLogRows) / commits : NaN,
  };
}

// ---------------------------------------------------------------------------------------------
// /proc

const CLK_TCK = (() => {
  try {
    return Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ProcStat {
  comm: string;
  ppid: number;
  /** Its own CPU seconds (utime + stime, all threads). */
  cpu: number;
  /** CPU seconds of the children it has waited for (cutime + cstime). */
  reaped: number;
}

function procStat(pid: number): ProcStat | null {
  if (!(pid > 0)) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const f = stat.slice(close + 2).split(" "); // fields from #3 (state) on
    return {
      comm: stat.slice(stat.indexOf("(") + 1, close),
      ppid: Number(f[1]),
      cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK,
      reaped: (Number(f[13]) + Number(f[14])) / CLK_TCK,
    };
  } catch {
    return null;
  }
}

/** `pid` when it is a process of ours named like `name` (a server given by URL may be on another host), else -1. */
function ownProcess(pid: number, name: string): number {
  return procStat(pid)?.comm.includes(name) ? pid : -1;
}

/**
 * CPU seconds of a process and all its children (PostgreSQL: one backend per connection plus the
 * writer, WAL writer, checkpointer, autovacuum…), counting children that have exited and been reaped.
 */
function treeCpu(root: number): number {
  const top = procStat(root);
  if (!top) return NaN;
  let total = top.cpu + top.reaped;
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!(pid > 0) || pid === root) continue;
    const s = procStat(pid);
    if (s?.ppid === root) total += s.cpu;
  }
  return total;
}
