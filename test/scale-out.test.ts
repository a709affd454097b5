import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { builtBinary } from "./support/binary.ts";
import { startServe, tempFolder, type ServeProcess } from "./support/cli.ts";
import { postgres, redisServer, type Engine, type PostgresEngine } from "./support/engines.ts";
import { startMockUpstream, type MockUpstream } from "./support/mock-upstream.ts";

/**
 * Issue 20 from the built binary: two replicas from one config file, sharing PostgreSQL (logs,
 * tokens) and Redis (counters, cache, coalescing, breakers), each with a SQLite file of its own that
 * must not matter. Every case the issue names, plus a Redis and a PostgreSQL restart under traffic.
 */

const ADMIN = "sb-admin-scale-out";
const pg = await postgres();
const redis = await redisServer();

interface Replicas {
  upstream: MockUpstream;
  a: ServeProcess;
  b: ServeProcess;
  both: ServeProcess[];
  dbUrl: string;
  stop(): Promise<void>;
}

async function startReplicas(pg: PostgresEngine, redis: Engine): Promise<Replicas> {
  const binary = await builtBinary();
  const upstream = await startMockUpstream();
  const dbUrl = await pg.database();
  // A fresh Redis per file: other files' counters and entries must not leak in.
  await redisCommand(redis.url, "FLUSHALL");
  const config = replicaConfig(upstream, dbUrl, redis, "open");
  // Each replica in a folder of its own: nothing is shared through the file system.
  const folders = [tempFolder({ "gateway.config.ts": config }), tempFolder({ "gateway.config.ts": config })];
  const [a, b] = await Promise.all(folders.map((dir) => startReplica(binary, dir.path)));
  return {
    upstream,
    a,
    b,
    both: [a, b],
    dbUrl,
    async stop() {
      await Promise.all([a.terminate(), b.terminate()]);
      await upstream.stop();
      for (const dir of folders) dir[Symbol.dispose]();
    },
  };
}

function startReplica(binary: string, dir: string): Promise<ServeProcess> {
  return startServe([binary, "serve", "--config", join(dir, "gateway.config.ts"), "--port", "0"], { cwd: dir });
}

function replicaConfig(upstream: MockUpstream, dbUrl: string, redis: Engine, limitsWhenDown: "open" | "closed"): string {
  return `export default {
  server: { adminToken: "${ADMIN}" },
  storage: { sqlite: "./data/replica.db", postgres: "${dbUrl}", redis: "${redis.url}", timeout: 250, limitsWhenDown: "${limitsWhenDown}" },
  providers: { openai: { baseUrl: "${upstream.url}/v1", apiKey: "sk-held-scale-out" } },
  gateways: {
    default: {},
    limited: { rateLimit: { limit: 50, interval: 60 } },
    counted: { rateLimit: { limit: 1000000, interval: 60 }, cache: { ttl: 300 } },
    cached: { cache: { ttl: 300 } },
    secured: { authentication: true, tokens: [{ name: "config", token: "sb-config-token-scale-out" }] },
    budgeted: { budgets: [{ usd: 0.00002, interval: "1d", key: "gateway", name: "shared-daily" }] },
    semantic: { cache: { ttl: 300, semantic: { threshold: 0.99, embed: { provider: "openai", model: "text-embedding-3-small" } } } },
  },
};
`;
}

async function redisCommand(url: string, command: string, ...args: string[]): Promise<unknown> {
  const client = new Bun.RedisClient(url);
  try {
    return await client.send(command, args);
  } finally {
    client.close();
  }
}

function chat(replica: ServeProcess, gateway: string, content: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${replica.url}/v1/local/${gateway}/openai/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }] }),
  });
}

function admin(replica: ServeProcess, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${replica.url}/client/v4/accounts/local/ai-gateway/gateways/${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", ...init.headers },
  });
}

async function logCount(replica: ServeProcess, gateway: string): Promise<number> {
  const response = await admin(replica, `${gateway}/logs?per_page=1`);
  const body = (await response.json()) as { result_info: { total_count: number } };
  return body.result_info.total_count;
}

describe.skipIf(!pg || !redis)("two replicas sharing PostgreSQL and Redis (built binary)", () => {
  let r: Replicas;
  beforeAll(async () => {
    r = await startReplicas(pg!, redis!);
  }, 120_000);
  afterAll(async () => {
    await r?.stop();
  });

  test("a limit of 50 per minute lets exactly 50 of 200 concurrent requests through, spread over both replicas", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => chat(r.both[i % 2], "limited", `limit ${i}`).then(async (response) => {
        await response.arrayBuffer();
        return response.status;
      })),
    );

    expect({ ok: statuses.filter((s) => s === 200).length, limited: statuses.filter((s) => s === 429).length }).toEqual({ ok: 50, limited: 150 });
  });

  test("a cache entry written by one replica is a HIT on the other", async () => {
    const first = await chat(r.a, "cached", "cache me across replicas");
    const firstBody = await first.text();
    const second = await chat(r.b, "cached", "cache me across replicas");

    expect([first.headers.get("cf-aig-cache-status"), second.headers.get("cf-aig-cache-status")]).toEqual(["MISS", "HIT"]);
    expect(await second.text()).toBe(firstBody);
  });

  test("ten identical concurrent misses spread over both replicas make one upstream call", async () => {
    r.upstream.reset();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => chat(r.both[i % 2], "cached", "coalesce me across replicas").then(async (response) => ({
        status: response.status,
        cache: response.headers.get("cf-aig-cache-status"),
        body: await response.text(),
      }))),
    );

    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(r.upstream.requests.filter((request) => request.body.includes("coalesce me across replicas")).length).toBe(1);
    expect(new Set(answers.map((answer) => answer.body)).size).toBe(1);
  });

  test("a token created on one replica works on the other, and its revocation too", async () => {
    const created = await admin(r.a, "secured/tokens", { method: "POST", body: JSON.stringify({ name: "shared" }) });
    expect(created.status).toBe(200);
    const { result } = (await created.json()) as { result: { token: string; id: string } };

    const onB = await chat(r.b, "secured", "token across replicas", { "cf-aig-authorization": `Bearer ${result.token}` });
    expect(onB.status).toBe(200);
    await onB.arrayBuffer();

    const revoked = await admin(r.b, `secured/tokens/${result.id}`, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    const onA = await chat(r.a, "secured", "token across replicas", { "cf-aig-authorization": `Bearer ${result.token}` });
    expect(onA.status).toBe(401);
  });

  test("a budget spent on one replica is spent on the other: once A refuses (429/2041), B refuses too", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 50 && !statuses.includes(429); i++) {
      const response = await chat(r.a, "budgeted", `spend ${i}`);
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    const onB = await chat(r.b, "budgeted", "spend on the other replica");

    expect(statuses.at(-1)).toBe(429);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(0);
    expect(onB.status).toBe(429);
    const body = (await onB.json()) as { internalCode: number; message: string };
    expect(body.internalCode).toBe(2041);
    expect(body.message).toContain("rule 'shared-daily'");
  });

  test("a prompt cached by one replica is a semantic HIT for a paraphrase on the other (vectors in Redis)", async () => {
    // The mock's embeddings depend on the text's length: two prompts of equal length are ~identical vectors.
    const first = await chat(r.a, "semantic", "What is the capital of France?");
    const firstBody = await first.text();
    // A stores the answer and its prompt's vector once the request completed: wait for the vector in Redis.
    await waitUntil(async () => ((await redisCommand(redis!.url, "KEYS", "sb:vectors:*")) as string[]).length > 0, 5_000);
    // B has never seen this partition: only A's vector, fetched from Redis, can make this a HIT.
    const paraphrase = await chat(r.b, "semantic", "What's the capital of France??");

    expect(first.headers.get("cf-aig-cache-status")).toBe("MISS");
    expect(paraphrase.headers.get("cf-aig-cache-status")).toBe("HIT");
    expect(paraphrase.headers.get("cf-aig-cache-similarity")).toMatch(/^(0\.99|1)/);
    expect(await paraphrase.text()).toBe(firstBody);
  });

  test("logs written by both replicas are in one query, from either replica", async () => {
    const ids: string[] = [];
    for (const replica of r.both) {
      const response = await chat(replica, "default", `logged by ${replica.url}`);
      await response.arrayBuffer();
      ids.push(response.headers.get("cf-aig-log-id")!);
    }

    // A replica's reads flush its own batch first; the other's batch lands within its flush interval (~50 ms).
    for (const replica of r.both) {
      for (const id of ids) await waitUntil(async () => (await admin(replica, `default/logs/${id}`)).status === 200, 5_000);
    }
    const listed = await admin(r.a, `default/logs?per_page=50`);
    const rows = ((await listed.json()) as { result: { id: string }[] }).result.map((row) => row.id);
    expect(ids.every((id) => rows.includes(id))).toBe(true);
  });

  test("a Redis restart in the middle of traffic: every request is answered, none waits long, the cache works again after", async () => {
    let stop = false;
    const outcomes: { status: number; ms: number }[] = [];
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        const started = performance.now();
        const response = await chat(r.both[i % 2], "counted", `redis outage ${i % 5}`).catch(() => null);
        await response?.arrayBuffer();
        outcomes.push({ status: response?.status ?? 0, ms: performance.now() - started });
      }
    })();
    await waitUntil(() => outcomes.length >= 10);
    await redis!.stop();
    const seenBefore = outcomes.length;
    await waitUntil(() => outcomes.length >= seenBefore + 10);
    await redis!.start();
    const afterStart = outcomes.length;
    await waitUntil(() => outcomes.length >= afterStart + 20);
    stop = true;
    await traffic;

    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    // 250 ms storage timeout; nothing near the upstream's own time limits.
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(2000);
    await waitUntil(async () => {
      const content = `after the redis restart ${Date.now()}`;
      await (await chat(r.a, "cached", content)).arrayBuffer();
      return (await chat(r.b, "cached", content)).headers.get("cf-aig-cache-status") === "HIT";
    });
  }, 60_000);

  test("while PostgreSQL is away: run-time tokens get 503/2118 (config tokens still work), /health names the fault, logs are kept", async () => {
    const created = await admin(r.a, "secured/tokens", { method: "POST", body: JSON.stringify({ name: "outage" }) });
    const { result } = (await created.json()) as { result: { token: string } };
    await pg!.stop();
    try {
      const runTime = await chat(r.a, "secured", "token while pg is away", { "cf-aig-authorization": `Bearer ${result.token}` });
      const configured = await chat(r.a, "secured", "config token while pg is away", { "cf-aig-authorization": "Bearer sb-config-token-scale-out" });
      await configured.arrayBuffer();
      const health = (await (await fetch(`${r.a.url}/health`)).json()) as { status: string; faults: { component: string }[] };

      expect({ status: runTime.status, retry: runTime.headers.get("retry-after") }).toEqual({ status: 503, retry: "1" });
      expect(((await runTime.json()) as { internalCode: number }).internalCode).toBe(2118);
      expect(configured.status).toBe(200);
      expect(health.status).toBe("degraded");
      expect(health.faults.map((fault) => fault.component)).toContain("logs");
    } finally {
      await pg!.start();
    }
  }, 30_000);

  test("with limitsWhenDown: \"closed\", a rate-limited request while Redis is away gets 503/2118, and passes once it is back", async () => {
    const binary = await builtBinary();
    using dir = tempFolder({ "gateway.config.ts": replicaConfig(r.upstream, r.dbUrl, redis!, "closed") });
    await using closed = await startReplica(binary, dir.path);
    const before = await chat(closed, "counted", "closed policy before");
    await before.arrayBuffer();
    await redis!.stop();
    let during: Response;
    try {
      during = await chat(closed, "counted", "closed policy during");
    } finally {
      await redis!.start();
    }

    expect(before.status).toBe(200);
    expect({ status: during.status, retry: during.headers.get("retry-after") }).toEqual({ status: 503, retry: "1" });
    expect(((await during.json()) as { internalCode: number }).internalCode).toBe(2118);
    await waitUntil(async () => {
      const after = await chat(closed, "counted", "closed policy after");
      await after.arrayBuffer();
      return after.status === 200;
    });
    expect(await closed.terminate()).toBe(0);
  }, 30_000);

  test("a PostgreSQL restart in the middle of traffic loses no log and needs no gateway restart", async () => {
    const before = await logCount(r.a, "default");
    let stop = false;
    let answered = 0;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        const response = await chat(r.both[i % 2], "default", `pg outage ${i}`);
        await response.arrayBuffer();
        if (response.status === 200) answered++;
      }
    })();
    await waitUntil(() => answered >= 10);
    await pg!.restart();
    const afterRestart = answered;
    await waitUntil(() => answered >= afterRestart + 10);
    stop = true;
    await traffic;

    await waitUntil(async () => (await logCount(r.b, "default")) === before + answered, 20_000);
  }, 60_000);
});

/** Polls `check` until it holds; fails the test after `ms`. */
async function waitUntil(check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await Bun.sleep(20);
  }
}
