import { expect } from "bun:test";
import type { Logger } from "../../src/pipeline/types.ts";
import { GatewayHealth } from "../../src/server/health.ts";
import { RedisConnection } from "../../src/store/redis/connection.ts";
import type { Engine } from "../support/engines.ts";

/**
 * What the Redis cache-store and vector-index tests share: a connection per "replica" (two stores on
 * two connections are two gateway processes as far as Redis can tell), a health that keeps its lines,
 * a key namespace no other test uses, and a way to wait for a condition instead of sleeping.
 */

/** The per-command timeout of the test connections: short, so fault tests stay quick. */
export const TIMEOUT_MS = 200;
/** What a call may take beyond the timeout on a busy 2-core machine. */
export const SLACK_MS = 300;

/** A logger that keeps its lines (faults are logged once per burst). */
export function quietLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
}

/** A real health with a quiet logger; `settleMs: 0` ends a fault at the first success. */
export function testHealth(): GatewayHealth {
  return new GatewayHealth(quietLogger(), { settleMs: 0 });
}

/** The components that have an ongoing fault. */
export const faulty = (health: GatewayHealth) => health.snapshot().faults.map((fault) => fault.component);

let namespaces = 0;
/** A key namespace of its own, so tests sharing the suite's Redis never see each other's keys. */
export const freshNamespace = (what: string) => `test:${process.pid}:${Date.now().toString(36)}:${what}:${++namespaces}:`;

/** One replica's connection; closed by `await using`. */
export async function replicaConnection(engine: Engine, health = testHealth()): Promise<RedisConnection & AsyncDisposable> {
  const connection = new RedisConnection(engine.url, { timeoutMs: TIMEOUT_MS, health });
  await connection.ready();
  return Object.assign(connection, { [Symbol.asyncDispose]: async () => connection.close() });
}

/** A plain client for looking at (or damaging) what the stores wrote. */
export function rawClient(engine: Engine): Bun.RedisClient & AsyncDisposable {
  const client = new Bun.RedisClient(engine.url, { autoReconnect: false });
  return Object.assign(client, { [Symbol.asyncDispose]: async () => client.close() });
}

/** Runs `call` and checks it settled within the connection's timeout (plus slack); resolves its result. */
export async function withinTimeout<T>(call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await call();
  expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  return result;
}

/** Polls `check` until it is true (the connection reconnects on its own, about once a second). */
export async function eventually(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}
