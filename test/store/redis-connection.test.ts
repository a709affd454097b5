import { afterAll, describe, expect, test } from "bun:test";
import { RedisConnection, RedisUnavailable } from "../../src/store/redis/connection.ts";
import { redisServer } from "../support/engines.ts";

const redis = await redisServer();

/** Health as the connection reports it: faults by component, and recoveries. */
function recordingHealth() {
  const faults: string[] = [];
  const recoveries: string[] = [];
  return {
    faults,
    recoveries,
    fault: (component: string) => void faults.push(component),
    recovered: (component: string) => void recoveries.push(component),
    section() {},
    snapshot: () => ({ status: "ok" as const, faults: [], stats: {} }),
  };
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error("condition not met within 10 s");
    await Bun.sleep(20);
  }
}

describe.skipIf(!redis)("RedisConnection against a real Redis", () => {
  const health = recordingHealth();
  const connection = new RedisConnection(redis?.url ?? "redis://127.0.0.1:1", { timeoutMs: 250, health });
  afterAll(() => connection.close());

  test("sends commands, keeps bytes as bytes, and runs scripts by their SHA-1", async () => {
    expect(await connection.ready()).toBe(true);
    const bytes = new Uint8Array([0, 255, 10, 13, 200, 0]);

    expect(await connection.send("SET", ["conn:bytes", bytes])).toBe("OK");
    expect(await connection.getBuffer("conn:bytes")).toEqual(bytes);
    expect(await connection.getBuffer("conn:absent")).toBeNull();
    expect(await connection.script("return redis.call('INCRBY', KEYS[1], ARGV[1])", ["conn:n"], [5])).toBe(5);
  });

  test("while Redis is away every command fails at once with RedisUnavailable, reported to health as `redis`", async () => {
    await redis!.stop();
    const started = performance.now();
    const error = await connection.send("GET", ["conn:n"]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RedisUnavailable);
    expect(performance.now() - started).toBeLessThan(250);
    expect(health.faults).toContain("redis");
  });

  test("once Redis is back the same connection works again, and a script it forgot is sent again", async () => {
    await redis!.start();
    await until(async () => (await connection.send("PING", [])) === "PONG");

    // The restart emptied the script cache: EVALSHA answers NOSCRIPT, the source goes once more.
    expect(await connection.script("return redis.call('INCRBY', KEYS[1], ARGV[1])", ["conn:n"], [5])).toBe(5);
    expect(health.recoveries).toContain("redis");
  });

  test("a server that does not answer is given up on at the timeout", async () => {
    const pauser = new Bun.RedisClient(redis!.url);
    await pauser.send("CLIENT", ["PAUSE", "1000", "ALL"]);
    const started = performance.now();
    const error = await connection.send("GET", ["conn:n"]).catch((e: unknown) => e);
    const waited = performance.now() - started;
    pauser.close();

    expect(error).toBeInstanceOf(RedisUnavailable);
    expect(waited).toBeGreaterThanOrEqual(240);
    expect(waited).toBeLessThan(900);
  });
});
