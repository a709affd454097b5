import { chownSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Real PostgreSQL and Redis servers for the tests, started on loopback, on free ports, in temp dirs.
 *
 * `SWITCHBOARD_TEST_POSTGRES` / `SWITCHBOARD_TEST_REDIS` (URLs) point the tests at servers someone
 * else runs; otherwise the servers are started here, once per test process, from the Debian packages
 * (`postgresql`, `redis-server`) and stopped when the process exits. Without the packages the engine
 * tests are skipped, unless `SWITCHBOARD_REQUIRE_ENGINES=1` (set by `.ci/run`), where a missing engine
 * fails the run instead of passing quietly.
 *
 * @example
 * const pg = await postgres();            // null: not installed (and not required)
 * const url = await pg!.database();      // a fresh, empty database of its own
 * const redis = await redisServer();
 * await redis!.restart();                 // same port, empty: what a Redis restart looks like to a client
 */

const REQUIRED = process.env.SWITCHBOARD_REQUIRE_ENGINES === "1";
const PG_BIN = ["/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"];

/** A server this process started (or was given): its URL, and restart for the fault tests. */
export interface Engine {
  readonly url: string;
  /** Stops the server (fast shutdown: clients see their connections drop). No-op for a server given by URL. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data (PostgreSQL) or empty (Redis). */
  start(): Promise<void>;
  restart(): Promise<void>;
}

export interface PostgresEngine extends Engine {
  /** A new empty database on this server; its URL. */
  database(): Promise<string>;
}

let pgStarted: Promise<PostgresEngine | null> | undefined;
let redisStarted: Promise<Engine | null> | undefined;
/**
 * Stops a server and removes its folder once this test process is gone, however it ends: `bun test`
 * runs no exit handlers, and a killed run runs nothing at all. A detached shell polls this process
 * and runs `cleanup` (shell commands) when it has gone.
 */
function reapAfterExit(cleanup: string): void {
  const watcher = Bun.spawn(["sh", "-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${cleanup}`], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
    detached: true,
  });
  watcher.unref();
}

/** The suite's PostgreSQL server, or null when none can be had (then the test skips). */
export function postgres(): Promise<PostgresEngine | null> {
  pgStarted ??= startPostgres();
  return pgStarted;
}

/** The suite's Redis server, or null when none can be had (then the test skips). */
export function redisServer(): Promise<Engine | null> {
  redisStarted ??= startRedis();
  return redisStarted;
}

/** Whether the engine tests run: a server is reachable, or it is required (and its absence fails). */
export async function engines(): Promise<{ postgres: PostgresEngine | null; redis: Engine | null }> {
  return { postgres: await postgres(), redis: await redisServer() };
}

function missing(what: string): null {
  if (REQUIRED) throw new Error(`${what} is required (SWITCHBOARD_REQUIRE_ENGINES=1) but is not installed`);
  return null;
}

/** A port nothing listens on right now. */
export function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

function asUser(user: string | null, argv: string[]): string[] {
  return user ? ["runuser", "-u", user, "--", ...argv] : argv;
}

async function run(argv: string[], what: string): Promise<void> {
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`${what} failed (${code}): ${err || out}`);
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await Bun.sleep(50);
  }
  throw new Error(`${what} did not come up within ${ms} ms`);
}

async function startPostgres(): Promise<PostgresEngine | null> {
  const given = process.env.SWITCHBOARD_TEST_POSTGRES;
  if (given) return remotePostgres(given);
  const bin = PG_BIN.find((dir) => Bun.file(join(dir, "initdb")).size > 0);
  if (!bin) return missing("PostgreSQL (Debian package postgresql)");
  // PostgreSQL refuses to run as root: the package's `postgres` user runs it.
  const user = process.getuid?.() === 0 ? "postgres" : null;
  const dir = mkdtempSync(join(tmpdir(), "sb-pg-"));
  if (user) {
    const id = Bun.spawnSync(["id", "-u", user]).stdout.toString().trim();
    const gid = Bun.spawnSync(["id", "-g", user]).stdout.toString().trim();
    chownSync(dir, Number(id), Number(gid));
  }
  const data = join(dir, "data");
  await run(asUser(user, [join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]), "initdb");
  const port = freePort();
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  const start = async () => {
    proc = Bun.spawn(
      asUser(user, [join(bin, "postgres"), "-D", data, "-p", String(port), "-h", "127.0.0.1", "-k", dir, "-c", "fsync=off", "-c", "max_connections=200"]),
      { stdout: "ignore", stderr: "ignore" },
    );
    await waitFor(async () => ping(`postgres://postgres@127.0.0.1:${port}/postgres`), "PostgreSQL");
  };
  const stop = async () => {
    if (!proc) return;
    // Fast shutdown: connections are dropped, data is kept. pg_ctl, because runuser does not pass signals on.
    await run(asUser(user, [join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]), "pg_ctl stop");
    await proc.exited;
    proc = null;
  };
  await start();
  // The postmaster's pid changes with each restart: read it from its pid file at the end.
  reapAfterExit(`kill -9 $(head -1 '${data}/postmaster.pid' 2>/dev/null) 2>/dev/null; sleep 1; rm -rf '${dir}'`);
  const base = `postgres://postgres@127.0.0.1:${port}`;
  return {
    url: `${base}/postgres`,
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    database: () => createDatabase(base),
  };
}

function remotePostgres(url: string): PostgresEngine {
  const base = url.replace(/\/[^/]*$/, "");
  const noop = async () => {};
  return { url, stop: noop, start: noop, restart: noop, database: () => createDatabase(base) };
}

let databases = 0;
async function createDatabase(base: string): Promise<string> {
  const name = `sb_test_${process.pid}_${++databases}_${Date.now().toString(36)}`;
  const admin = new Bun.SQL(`${base}/postgres`);
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  return `${base}/${name}`;
}

async function ping(url: string): Promise<boolean> {
  const sql = new Bun.SQL(url, { max: 1, connectionTimeout: 2 });
  try {
    await sql`SELECT 1`;
    return true;
  } finally {
    await sql.close();
  }
}

async function startRedis(): Promise<Engine | null> {
  const given = process.env.SWITCHBOARD_TEST_REDIS;
  if (given) {
    const noop = async () => {};
    return { url: given, stop: noop, start: noop, restart: noop };
  }
  const bin = ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/bin/valkey-server"].find((path) => Bun.file(path).size > 0);
  if (!bin) return missing("Redis (Debian package redis-server)");
  const dir = mkdtempSync(join(tmpdir(), "sb-redis-"));
  const port = freePort();
  const url = `redis://127.0.0.1:${port}`;
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  const start = async () => {
    proc = Bun.spawn([bin, "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--pidfile", join(dir, "redis.pid"), "--save", "", "--appendonly", "no"], {
      stdout: "ignore",
      stderr: "ignore",
    });
    await waitFor(async () => {
      const client = new Bun.RedisClient(url, { autoReconnect: false, connectionTimeout: 1000 });
      try {
        return (await client.send("PING", [])) === "PONG";
      } finally {
        client.close();
      }
    }, "Redis");
  };
  const stop = async () => {
    if (!proc) return;
    proc.kill("SIGKILL"); // a crash: nothing saved, connections dropped
    await proc.exited;
    proc = null;
  };
  await start();
  reapAfterExit(`kill -9 $(cat '${dir}/redis.pid' 2>/dev/null) 2>/dev/null; rm -rf '${dir}'`);
  return {
    url,
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
