import type { Logger } from "../../src/pipeline/types.ts";
import { GatewayHealth } from "../../src/server/health.ts";
import { RedisConnection } from "../../src/store/redis/connection.ts";
import { redisServer } from "../support/engines.ts";

/** The suite's Redis server, or null (then the Redis describe blocks skip). */
export const engine = await redisServer();

/** How long a test connection lets one command take. */
export const TIMEOUT_MS = 300;

/** A logger that keeps what it was told, so a test can see the health warnings without printing them. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

/** A connection to the suite's Redis with a health of its own, closed by `await using`. */
export async function connect(timeoutMs = TIMEOUT_MS) {
  if (!engine) throw new Error("no Redis server");
  const health = new GatewayHealth(recordingLogger(), { settleMs: 0 });
  const connection = new RedisConnection(engine.url, { timeoutMs, health });
  await connection.ready();
  return Object.assign(connection, { health, [Symbol.asyncDispose]: async () => connection.close() });
}

/** A plain client for poking at Redis behind the stores' back (`CLIENT PAUSE`, `PTTL`), closed by `await using`. */
export function rawClient() {
  if (!engine) throw new Error("no Redis server");
  const client = new Bun.RedisClient(engine.url, { autoReconnect: false });
  return Object.assign(client, { [Symbol.asyncDispose]: async () => client.close() });
}

let namespaces = 0;
/** A key prefix no other test uses, so stores on one server never see each other's keys. */
export function namespace(): string {
  return `sbtest:${process.pid}:${++namespaces}:${Date.now().toString(36)}:`;
}

/** Polls `check` until it holds, or fails the test after `ms`. */
export async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(20);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}
