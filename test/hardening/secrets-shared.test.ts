/**
 * Issue 22, secrets, the scale-out half: provider keys and gateway tokens are never stored in PostgreSQL
 * or Redis. The gateway runs as `switchboard serve` in a child process with `storage: { postgres, redis }`
 * and distinctive fake secrets: provider keys it holds (global and per gateway), keys clients send
 * (Authorization, x-api-key, Universal and WebSocket step headers, the compat bearer), config tokens, a
 * token made with the admin API, a wrong token, the admin token. Every feature that writes to the shared
 * engines is on: logs and tokens (PostgreSQL); the cache, the semantic cache's vectors, coalescing, rate
 * limits and budgets keyed by token and by header, circuit breakers (Redis). Traffic goes through the
 * provider route, Universal, compat and WebSocket, failures included (provider 401 and 500, bad tokens).
 *
 * Then everything the engines hold is scanned for each secret: every row of every table of the test
 * database as text, every bytea column as bytes, every Redis key's name and value by type (strings,
 * hashes, lists, sets, sorted sets, streams), base64 and hex runs decoded; and the server's stdout and
 * stderr. A secret planted on purpose in a table and in Redis keys proves the scan finds what is there.
 * (SQLite, the answers, the admin API, metrics and spans are scanned by secrets.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { BUN, MAIN, startServe, tempFolder, type ServeProcess } from "../support/cli.ts";
import { postgres, redisServer } from "../support/engines.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { openSocket, refusedUpgrade, wsUrl } from "../support/ws-client.ts";

setDefaultTimeout(30_000);

const pg = await postgres();
const redis = await redisServer();

/** A distinctive fake secret; its random tail is what the scan looks for, so a cut or prefixed copy is found too. */
function secret(kind: string): { value: string; tail: string } {
  const tail = Bun.randomUUIDv7().replaceAll("-", "").slice(-20);
  return { value: `${kind}-SECRET-${tail}`, tail };
}

const SECRETS = {
  heldOpenai: secret("sk-held-openai"),
  heldCustom: secret("held-custom"),
  heldAnthropicGateway: secret("sk-ant-held-gateway"),
  clientKey: secret("sk-client"),
  clientAnthropic: secret("sk-ant-client"),
  configToken: secret("gw-config-token"),
  namedToken: secret("gw-named-token"),
  badToken: secret("gw-bad-token"),
  adminToken: secret("admin-token"),
};
/** Keys sent only to the gateway whose limits are keyed by a credential header (see the last describe). */
const KEYED = { keyedBearer: secret("sk-keyed-bearer"), keyedApiKey: secret("sk-ant-keyed") };
/** Put into the engines by the test itself, to prove the scan finds a secret where there is one. */
const PLANTED = { planted: secret("planted") };

type Secret = { value: string; tail: string };
type SecretName = keyof typeof SECRETS | keyof typeof KEYED | keyof typeof PLANTED | "apiToken";
const made: Partial<Record<"apiToken", Secret>> = {};
const allSecrets = (): [SecretName, Secret][] => Object.entries({ ...SECRETS, ...KEYED, ...PLANTED, ...made }) as [SecretName, Secret][];

/**
 * `text`, and what its base64 and hex runs decode to: Redis holds bodies and vectors as base64, and a
 * row cast to text shows bytea as hex. Every start offset of a base64 run is tried, so a secret encoded
 * inside a larger run is found wherever it begins.
 */
function decodedForms(text: string): string[] {
  const forms = [text];
  for (const run of text.match(/[A-Za-z0-9+/_-]{16,}={0,2}/g) ?? []) {
    for (let offset = 0; offset < 4; offset++) forms.push(Buffer.from(run.slice(offset), "base64").toString("latin1"));
  }
  for (const run of text.match(/(?:[0-9a-f]{2}){8,}/gi) ?? []) {
    for (const offset of [0, 1]) forms.push(Buffer.from(run.slice(offset), "hex").toString("latin1"));
  }
  return forms;
}

/** Which secrets `content` holds, as it is or decoded, by name. */
function leaks(content: string | Uint8Array): SecretName[] {
  const text = typeof content === "string" ? content : Buffer.from(content).toString("latin1");
  const forms = decodedForms(text);
  return allSecrets()
    .filter(([, { tail }]) => forms.some((form) => form.includes(tail)))
    .map(([name]) => name);
}

/** One place a scan looked at, and what it found there. */
interface Scanned {
  where: string;
  found: SecretName[];
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Every row of every table of the database (each as text, bytea columns also as bytes), with the row count of each table. */
async function scanPostgres(url: string): Promise<{ places: Scanned[]; rows: Record<string, number> }> {
  const sql = new Bun.SQL(url, { max: 1 });
  try {
    const places: Scanned[] = [];
    const rows: Record<string, number> = {};
    const tables = (await sql`SELECT table_schema, table_name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`) as { table_schema: string; table_name: string }[];
    for (const { table_schema: schema, table_name: table } of tables) {
      const name = `${quote(schema)}.${quote(table)}`;
      const all = (await sql.unsafe(`SELECT t::text AS row FROM ${name} t`)) as { row: string }[];
      rows[table] = all.length;
      all.forEach(({ row }, i) => places.push({ where: `postgres ${table} row ${i + 1}`, found: leaks(row) }));
      const bytea = (await sql`SELECT column_name FROM information_schema.columns
        WHERE table_schema = ${schema} AND table_name = ${table} AND data_type = 'bytea'`) as { column_name: string }[];
      for (const { column_name: column } of bytea) {
        const values = (await sql.unsafe(`SELECT ${quote(column)} AS v FROM ${name} WHERE ${quote(column)} IS NOT NULL`)) as { v: Uint8Array }[];
        values.forEach(({ v }, i) => places.push({ where: `postgres ${table}.${column} bytes ${i + 1}`, found: leaks(v) }));
      }
    }
    return { places, rows };
  } finally {
    await sql.close();
  }
}

/** Every key of the Redis server: its name and its value, read by type; with the count of keys per type. */
async function scanRedis(url: string): Promise<{ places: Scanned[]; keys: string[]; types: Record<string, number> }> {
  const client = new Bun.RedisClient(url);
  try {
    const keys = new Set<string>();
    let cursor = "0";
    do {
      const [next, page] = (await client.send("SCAN", [cursor, "COUNT", "1000"])) as [string, string[]];
      for (const key of page) keys.add(key);
      cursor = String(next);
    } while (cursor !== "0");
    const places: Scanned[] = [];
    const types: Record<string, number> = {};
    for (const key of keys) {
      places.push({ where: `redis key name ${key}`, found: leaks(key) });
      const type = String(await client.send("TYPE", [key]));
      types[type] = (types[type] ?? 0) + 1;
      const read: Record<string, () => Promise<unknown>> = {
        string: () => client.getBuffer(key),
        hash: () => client.send("HGETALL", [key]),
        list: () => client.send("LRANGE", [key, "0", "-1"]),
        set: () => client.send("SMEMBERS", [key]),
        zset: () => client.send("ZRANGE", [key, "0", "-1", "WITHSCORES"]),
        stream: () => client.send("XRANGE", [key, "-", "+"]),
      };
      // A key that expired between SCAN and TYPE is "none": nothing left to read.
      if (type === "none") continue;
      if (!read[type]) throw new Error(`the scan cannot read Redis type ${type} (key ${key})`);
      const value = await read[type]();
      places.push({ where: `redis ${type} ${key}`, found: leaks(value instanceof Uint8Array ? value : JSON.stringify(value ?? null)) });
    }
    return { places, keys: [...keys], types };
  } finally {
    client.close();
  }
}

/** Each secret in `places` (but those in `except`), as "<secret> in <where>". */
const found = (places: Scanned[], except: SecretName[] = []) =>
  places.flatMap(({ where, found }) => found.filter((name) => name !== "planted" && !except.includes(name)).map((name) => `${name} in ${where}`));

let upstream: MockUpstream;
let folder: { path: string; [Symbol.dispose](): void };
let server: ServeProcess | undefined;
let dbUrl = "";
const answers: { where: string; status: number; cache: string | null }[] = [];
/** The admin API's answers about what the shared stores hold. */
const adminAnswers: Scanned[] = [];
let scanned: { postgres: Awaited<ReturnType<typeof scanPostgres>>; redis: Awaited<ReturnType<typeof scanRedis>>; output: Scanned[] };

const CONFIG = (upstreamUrl: string) => `import { defineConfig } from "switchboard";
const env = process.env;
export default defineConfig({
  server: { adminToken: env.ADMIN_TOKEN },
  storage: { sqlite: "./data/gateway.db", postgres: env.PG_URL, redis: env.REDIS_URL },
  providers: {
    openai: { baseUrl: "${upstreamUrl}/v1", apiKey: env.HELD_OPENAI },
    anthropic: { baseUrl: "${upstreamUrl}" },
    "workers-ai": { baseUrl: "${upstreamUrl}/client/v4/accounts/{account}/ai/run" },
    "custom-mock": { baseUrl: "${upstreamUrl}/custom", apiKey: env.HELD_CUSTOM },
  },
  gateways: {
    default: {},
    cached: { cache: { ttl: 600, semantic: { threshold: 0.999, embed: { provider: "openai", model: "text-embedding-3-small" } } } },
    locked: {
      authentication: true,
      tokens: [env.CONFIG_TOKEN, { name: "named", token: env.NAMED_TOKEN }],
      providers: { anthropic: { apiKey: env.HELD_ANTHROPIC } },
      cache: { ttl: 600 },
      rateLimit: [{ limit: 1000, interval: 60, key: "token" }, { limit: 1000, interval: 60, key: "header:x-team" }, { limit: 100000, interval: 60, key: "token", unit: "tokens" }],
      budgets: [{ usd: 1000, interval: "1d", key: "token" }, { usd: 1000, interval: "1d", key: "header:x-team" }],
    },
    keyed: {
      rateLimit: { limit: 1000, interval: 60, key: "header:authorization" },
      budgets: [{ usd: 1000, interval: "1d", key: "header:x-api-key" }],
    },
  },
  routes: { chat: { targets: [{ model: "anthropic/claude-sonnet-4-5" }, { model: "openai/gpt-4o-mini" }] } },
});
`;

const chat = (content: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content }] });
const messages = (content: string) => ({ model: "claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content }] });
const json = { "content-type": "application/json" };

/** Traffic over every route and every shared store, successes and failures, carrying the secrets. */
async function traffic(url: string): Promise<void> {
  const base = (gateway: string) => `${url}/v1/local/${gateway}`;
  const admin = { authorization: `Bearer ${SECRETS.adminToken.value}` };
  const token = (value: string) => ({ "cf-aig-authorization": `Bearer ${value}` });
  const client = { authorization: `Bearer ${SECRETS.clientKey.value}` };
  const team = { "x-team": "blue" };
  const post = async (where: string, target: string, body: unknown, headers: Record<string, string>) => {
    const response = await fetch(target, { method: "POST", headers: { ...json, ...headers }, body: JSON.stringify(body) });
    await response.arrayBuffer().catch(() => undefined);
    answers.push({ where, status: response.status, cache: response.headers.get("cf-aig-cache-status") });
  };

  // A run-time token, made with the admin API: stored in PostgreSQL (its hash only, one hopes).
  const created = await fetch(`${url}/client/v4/accounts/local/ai-gateway/gateways/locked/tokens`, { method: "POST", headers: { ...json, ...admin }, body: JSON.stringify({ name: "api" }) });
  const { result } = (await created.json()) as { result: { token: string } };
  made.apiToken = { value: result.token, tail: result.token.slice(-16) };

  // Provider route: client keys, held keys, upstream failures (the breaker counts them), streams.
  await post("openai with the client's key", `${base("default")}/openai/chat/completions`, chat("one"), client);
  await post("openai with the held key", `${base("default")}/openai/chat/completions`, chat("two"), {});
  await post("openai answering 401", `${base("default")}/openai/chat/completions`, chat("three"), { ...client, "x-mock-status": "401" });
  for (let i = 0; i < 3; i++) await post("openai answering 500", `${base("default")}/openai/chat/completions`, chat(`four ${i}`), { ...client, "x-mock-status": "500" });
  await post("openai streaming", `${base("default")}/openai/chat/completions`, { ...chat("five"), stream: true }, client);
  await post("anthropic with the client's x-api-key", `${base("default")}/anthropic/v1/messages`, messages("hi"), { "x-api-key": SECRETS.clientAnthropic.value, "anthropic-version": "2023-06-01" });
  await post("anthropic answering 401", `${base("default")}/anthropic/v1/messages`, messages("hi"), { "x-api-key": SECRETS.clientAnthropic.value, "anthropic-version": "2023-06-01", "x-mock-status": "401" });
  await post("custom with the held key", `${base("default")}/custom-mock/echo`, {}, {});

  // Cache in Redis: a miss, an exact hit, a semantic hit (embedded with the held key), coalesced identical misses.
  await post("cache miss", `${base("cached")}/openai/chat/completions`, chat("cache me"), client);
  await post("cache exact hit", `${base("cached")}/openai/chat/completions`, chat("cache me"), client);
  await post("semantic cache hit", `${base("cached")}/openai/chat/completions`, chat("cache m3"), client);
  await Promise.all([1, 2, 3].map(() => post("coalesced miss", `${base("cached")}/openai/chat/completions`, chat("all at once"), { ...client, "x-mock-delay": "200" })));
  await post("cached 500", `${base("cached")}/openai/chat/completions`, chat("fails"), { ...client, "x-mock-status": "500" });

  // Tokens (config, named, run-time, wrong), limits and budgets keyed by token and by header, cached answers.
  await post("locked with the config token", `${base("locked")}/openai/chat/completions`, chat("seven"), { ...token(SECRETS.configToken.value), ...team });
  await post("locked with the config token again (cache hit)", `${base("locked")}/openai/chat/completions`, chat("seven"), { ...token(SECRETS.configToken.value), ...team });
  await post("locked with the named token", `${base("locked")}/anthropic/v1/messages`, messages("hi"), { ...token(SECRETS.namedToken.value), "anthropic-version": "2023-06-01", ...team });
  await post("locked with the API-made token", `${base("locked")}/openai/chat/completions`, chat("eight"), { ...token(made.apiToken.value), ...client });
  await post("locked with a wrong token", `${base("locked")}/openai/chat/completions`, chat("ten"), token(SECRETS.badToken.value));
  await post("locked with the token as a provider key", `${base("locked")}/openai/chat/completions`, chat("twelve"), { authorization: `Bearer ${SECRETS.configToken.value}` });
  await post("locked provider answering 401", `${base("locked")}/openai/chat/completions`, chat("thirteen"), { ...token(SECRETS.namedToken.value), ...client, "x-mock-status": "401" });

  // Universal: keys in step headers, a failing first step, a bad token.
  const steps = [
    { provider: "openai", endpoint: "chat/completions", headers: { ...client, "x-mock-status": "500" }, query: chat("u1") },
    { provider: "anthropic", endpoint: "v1/messages", headers: { "x-api-key": SECRETS.clientAnthropic.value, "anthropic-version": "2023-06-01" }, query: messages("u2") },
  ];
  await post("Universal with a failing step", base("default"), steps, {});
  await post("Universal on locked", base("locked"), steps.slice(1), { ...token(SECRETS.configToken.value), ...team });
  await post("Universal with a wrong token", base("locked"), steps.slice(1), token(SECRETS.badToken.value));

  // Compat: the bearer as provider key (open gateway) and as gateway token (locked), a route, refusals.
  const compat = (gateway: string) => `${base(gateway)}/compat/chat/completions`;
  await post("compat openai with the client's key", compat("default"), { ...chat("c1"), model: "openai/gpt-4o-mini" }, client);
  await post("compat anthropic with the client's key", compat("default"), { ...chat("c2"), model: "anthropic/claude-sonnet-4-5" }, { authorization: `Bearer ${SECRETS.clientAnthropic.value}` });
  await post("compat on locked, the token as bearer", compat("locked"), { ...chat("c4"), model: "anthropic/claude-sonnet-4-5" }, { authorization: `Bearer ${SECRETS.configToken.value}`, ...team });
  await post("compat route on locked", compat("locked"), { ...chat("c5"), model: "dynamic/chat" }, { authorization: `Bearer ${SECRETS.namedToken.value}` });
  await post("compat with a wrong bearer on locked", compat("locked"), { ...chat("c6"), model: "openai/gpt-4o-mini" }, { authorization: `Bearer ${SECRETS.badToken.value}` });
  await post("compat answering 401", compat("default"), { ...chat("c7"), model: "openai/gpt-4o-mini" }, { ...client, "x-mock-status": "401" });

  // WebSocket: the token as a subprotocol, keys in step headers, a provider failure, a refused upgrade.
  const socket = await openSocket("ws", wsUrl(base("locked")), { protocols: ["realtime", `cf-aig-authorization.${SECRETS.configToken.value}`] });
  socket.create({ eventId: "ws-1", provider: "openai", endpoint: "chat/completions", headers: client, query: chat("w1") });
  socket.create({ eventId: "ws-2", provider: "openai", endpoint: "chat/completions", headers: { ...client, "x-mock-status": "401" }, query: { ...chat("w2"), stream: true } });
  socket.create({ eventId: "ws-3", provider: "anthropic", endpoint: "v1/messages", headers: { "x-api-key": SECRETS.clientAnthropic.value, "anthropic-version": "2023-06-01" }, query: { ...messages("w3"), stream: true } });
  for (const id of ["ws-1", "ws-2", "ws-3"]) await socket.result(id);
  await socket[Symbol.asyncDispose]();
  const refusal = await refusedUpgrade(wsUrl(base("locked")), { protocols: [`cf-aig-authorization.${SECRETS.badToken.value}`] });
  answers.push({ where: "refused WebSocket upgrade", status: refusal.status, cache: null });

  // Limits and budgets keyed by the provider credential itself.
  await post("keyed by authorization", `${base("keyed")}/openai/chat/completions`, chat("k1"), { authorization: `Bearer ${KEYED.keyedBearer.value}` });
  await post("keyed by x-api-key", `${base("keyed")}/anthropic/v1/messages`, messages("k2"), { "x-api-key": KEYED.keyedApiKey.value, "anthropic-version": "2023-06-01" });

  // The admin API reads the shared stores too (budgets from Redis, tokens from PostgreSQL).
  for (const path of ["locked/tokens", "locked/budgets", "keyed/budgets", "default/breakers"]) {
    const text = await (await fetch(`${url}/client/v4/accounts/local/ai-gateway/gateways/${path}`, { headers: admin })).text();
    adminAnswers.push({ where: `admin API ${path}`, found: leaks(text) });
  }
}

/** Puts the planted secret into a table and keys of the test's own, as text, bytes, base64 and a key name. */
async function plant(pgUrl: string, redisUrl: string): Promise<void> {
  const { value } = PLANTED.planted;
  const sql = new Bun.SQL(pgUrl, { max: 1 });
  try {
    await sql`CREATE TABLE planted_probe (note text, payload bytea)`;
    await sql`INSERT INTO planted_probe VALUES (${`a note holding ${value} in the middle`}, NULL), (NULL, ${Buffer.from(`{"key":"${value}"}`)})`;
  } finally {
    await sql.close();
  }
  const client = new Bun.RedisClient(redisUrl);
  try {
    await client.send("SET", [`planted:name:${value}`, "x"]);
    await client.send("SET", ["planted:base64", `{"v":1}\n${Buffer.from(`a body with ${value} inside`).toString("base64")}`]);
    await client.send("HSET", ["planted:hash", "field", `Bearer ${value}`]);
    await client.send("RPUSH", ["planted:list", "first", value]);
  } finally {
    client.close();
  }
}

const ENGINES = !!pg && !!redis;

beforeAll(async () => {
  if (!ENGINES) return;
  upstream = await startMockUpstream();
  dbUrl = await pg!.database();
  // A fresh Redis: other files' keys are not this test's to judge.
  const flush = new Bun.RedisClient(redis!.url);
  await flush.send("FLUSHALL", []);
  flush.close();
  folder = tempFolder({ "gateway.config.ts": CONFIG(upstream.url) });
  server = await startServe([BUN, MAIN, "serve", "--config", join(folder.path, "gateway.config.ts"), "--port", "0"], {
    cwd: folder.path,
    env: {
      ADMIN_TOKEN: SECRETS.adminToken.value,
      PG_URL: dbUrl,
      REDIS_URL: redis!.url,
      HELD_OPENAI: SECRETS.heldOpenai.value,
      HELD_CUSTOM: SECRETS.heldCustom.value,
      HELD_ANTHROPIC: SECRETS.heldAnthropicGateway.value,
      CONFIG_TOKEN: SECRETS.configToken.value,
      NAMED_TOKEN: SECRETS.namedToken.value,
      SWITCHBOARD_ADMIN_TOKEN: "",
    },
  });
  await traffic(server.url);
  // A graceful stop writes every log to PostgreSQL; the Redis keys live on (TTLs of minutes).
  expect(await server.terminate()).toBe(0);
  await plant(dbUrl, redis!.url);
  const { stdout, stderr } = server.output();
  scanned = {
    postgres: await scanPostgres(dbUrl),
    redis: await scanRedis(redis!.url),
    output: [
      { where: "stdout", found: leaks(stdout) },
      { where: "stderr", found: leaks(stderr) },
    ],
  };
}, 60_000);

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  await upstream?.stop();
  folder?.[Symbol.dispose]();
});

describe.skipIf(!ENGINES)("secrets in PostgreSQL and Redis", () => {
  test("the secrets were really used: the provider saw the held and client keys; tokens were accepted and refused; cache, semantic cache and failures happened", () => {
    const seen = JSON.stringify(upstream.requests.map(({ headers }) => headers));
    const status = (where: string) => answers.find((answer) => answer.where === where)?.status;

    for (const name of ["heldOpenai", "heldCustom", "heldAnthropicGateway", "clientKey", "clientAnthropic"] as const) expect(seen).toContain(SECRETS[name].value);
    expect(seen).toContain(KEYED.keyedBearer.value);
    expect({
      upstream401: status("openai answering 401"),
      upstream500: status("openai answering 500"),
      anthropic401: status("anthropic answering 401"),
      exact: answers.find((a) => a.where === "cache exact hit")?.cache,
      semantic: answers.find((a) => a.where === "semantic cache hit")?.cache,
      config: status("locked with the config token"),
      configHit: answers.find((a) => a.where === "locked with the config token again (cache hit)")?.cache,
      named: status("locked with the named token"),
      api: status("locked with the API-made token"),
      wrong: status("locked with a wrong token"),
      compatToken: status("compat on locked, the token as bearer"),
      compatWrong: status("compat with a wrong bearer on locked"),
      universalWrong: status("Universal with a wrong token"),
      upgrade: status("refused WebSocket upgrade"),
      keyed: [status("keyed by authorization"), status("keyed by x-api-key")],
    }).toEqual({
      upstream401: 401,
      upstream500: 500,
      anthropic401: 401,
      exact: "HIT",
      semantic: "HIT",
      config: 200,
      configHit: "HIT",
      named: 200,
      api: 200,
      wrong: 401,
      compatToken: 200,
      compatWrong: 401,
      universalWrong: 401,
      upgrade: 401,
      keyed: [200, 200],
    });
  });

  test("the scan covered what the gateway stored: logs, payloads and tokens in PostgreSQL; cache entries, vectors, counters, spend and breakers in Redis", () => {
    const { rows } = scanned.postgres;
    const prefixes = new Set(scanned.redis.keys.map((key) => key.split(":").slice(0, 2).join(":")));

    expect(rows.logs).toBeGreaterThan(30);
    expect(rows.log_payloads).toBe(rows.logs);
    expect(rows.gateway_tokens).toBe(1);
    expect(scanned.redis.keys.length).toBeGreaterThan(10);
    expect([...prefixes].sort()).toEqual(expect.arrayContaining(["sb:breaker", "sb:cache", "sb:counter", "sb:spend", "sb:vectors"]));
    expect(scanned.redis.types).toMatchObject({ string: expect.any(Number), hash: expect.any(Number), zset: expect.any(Number) });
  });

  test("the scan finds a secret where one is: planted in a table (text and bytea) and in Redis (key name, base64 value, hash, list)", () => {
    const planted = [...scanned.postgres.places, ...scanned.redis.places].filter(({ found }) => found.includes("planted")).map(({ where }) => where);

    expect(planted.sort()).toEqual(
      [
        "postgres planted_probe row 1",
        "postgres planted_probe row 2",
        "postgres planted_probe.payload bytes 1",
        `redis key name planted:name:${PLANTED.planted.value}`,
        "redis string planted:base64",
        "redis hash planted:hash",
        "redis list planted:list",
      ].sort(),
    );
  });

  test("no secret in any row of any PostgreSQL table, as text or as bytes", () => {
    expect(found(scanned.postgres.places)).toEqual([]);
  });

  test("no secret in any Redis key's name or value, limits and budgets keyed by a credential header included", () => {
    expect(found(scanned.redis.places)).toEqual([]);
  });

  test("no secret in the server's stdout or stderr, nor in the admin API's tokens, budgets and breakers", () => {
    expect(found(scanned.output)).toEqual([]);
    expect(found(adminAnswers)).toEqual([]);
  });
});
