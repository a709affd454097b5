/**
 * Issue 22, secrets: provider keys and gateway tokens never leave the places they belong. The gateway
 * runs as `switchboard serve` in a child process with distinctive fake secrets — provider keys it holds
 * (global and per gateway), keys clients send (headers, Universal step headers, WebSocket steps and
 * subprotocols, the compat bearer, a Google `?key=`), config tokens, a token made with the admin API,
 * one made with the CLI, a wrong token, the admin token and the OTLP collector's key. Every route is
 * used, failures included (provider 401 and 500, bad tokens, refused requests); then every output is
 * scanned for each secret: answers (bodies and headers), stdout and stderr, `/metrics`, the OTLP spans,
 * the admin logs API (every log, its request and response bodies), the dashboard, and every byte of
 * every file the gateway wrote (SQLite databases with their WAL), while running and after stop.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BUN, MAIN, run, startServe, tempFolder, type ServeProcess } from "../support/cli.ts";
import { startMockRealtime, type MockRealtime } from "../support/mock-realtime.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { startCollector, type Collector } from "../support/otel-collector.ts";
import { openSocket, refusedUpgrade, wsUrl } from "../support/ws-client.ts";

// Bun's default 5 s is short for cases that overflow the stack or flood a socket on 2 shared cores.
setDefaultTimeout(30_000);

/** A distinctive fake secret; its random tail is what the scan looks for, so a cut or prefixed copy is found too. */
function secret(kind: string): { value: string; tail: string } {
  const tail = Bun.randomUUIDv7().replaceAll("-", "").slice(-20);
  return { value: `${kind}-SECRET-${tail}`, tail };
}

const SECRETS = {
  heldOpenai: secret("sk-held-openai"),
  heldGoogle: secret("held-google"),
  heldWorkers: secret("held-workers"),
  heldCustom: secret("held-custom"),
  heldAnthropicGateway: secret("sk-ant-held-gateway"),
  clientKey: secret("sk-client"),
  clientAnthropic: secret("sk-ant-client"),
  queryKey: secret("query-key"),
  subprotocolKey: secret("sk-subprotocol"),
  configToken: secret("gw-config-token"),
  namedToken: secret("gw-named-token"),
  badToken: secret("gw-bad-token"),
  adminToken: secret("admin-token"),
  collectorKey: secret("collector-key"),
};
type SecretName = keyof typeof SECRETS | "apiToken" | "cliToken";
/** Tokens only the gateway makes: known once it printed them (once, by design). */
const made: Partial<Record<"apiToken" | "cliToken", { value: string; tail: string }>> = {};

/** Which secrets `text` (or bytes) contains, by name. */
function leaks(content: string | Buffer, allow: SecretName[] = []): SecretName[] {
  const all: [SecretName, { value: string; tail: string }][] = [...(Object.entries(SECRETS) as [SecretName, { value: string; tail: string }][]), ...(Object.entries(made) as [SecretName, { value: string; tail: string }][])];
  return all.filter(([name, { tail }]) => !allow.includes(name) && content.includes(tail)).map(([name]) => name);
}

/** Where an output came from, for the scan's groups. */
type Kind = "answer" | "admin" | "dashboard" | "metrics" | "socket" | "process" | "otel" | "file";
/** Everything the gateway said, by where it said it. */
const outputs: { kind: Kind; where: string; content: string | Buffer; allow?: SecretName[] }[] = [];
const answers: { where: string; status: number; cache?: string | null }[] = [];

let upstream: MockUpstream;
let realtime: MockRealtime;
let collector: Collector;
let folder: { path: string; [Symbol.dispose](): void };
const servers: ServeProcess[] = [];

const CONFIG = (upstreamUrl: string, realtimeUrl: string) => `import { defineConfig } from "switchboard";
const env = process.env;
export default defineConfig({
  server: {
    adminToken: env.ADMIN_TOKEN,
    otel: { endpoint: env.COLLECTOR_URL, headers: { "x-api-key": env.COLLECTOR_KEY }, batchSize: 1, intervalMs: 100 },
  },
  storage: { sqlite: "./data/gateway.db" },
  providers: {
    openai: { baseUrl: "${upstreamUrl}/v1", apiKey: env.HELD_OPENAI },
    anthropic: { baseUrl: "${upstreamUrl}" },
    "google-ai-studio": { baseUrl: "${upstreamUrl}", apiKey: env.HELD_GOOGLE },
    "workers-ai": { baseUrl: "${upstreamUrl}/client/v4/accounts/{account}/ai/run", apiKey: env.HELD_WORKERS },
    "custom-mock": { baseUrl: "${upstreamUrl}/custom", apiKey: env.HELD_CUSTOM },
    "custom-rt": { baseUrl: "${realtimeUrl}/rt" },
  },
  gateways: {
    default: {},
    cached: { cache: { ttl: 60, semantic: { threshold: 0.999, embed: { provider: "openai", model: "text-embedding-3-small" } } } },
    locked: {
      authentication: true,
      tokens: [env.CONFIG_TOKEN, { name: "named", token: env.NAMED_TOKEN }],
      providers: { anthropic: { apiKey: env.HELD_ANTHROPIC } },
      rateLimit: { limit: 1000, interval: 60, key: "token" },
      budgets: [{ usd: 1000, interval: "1d", key: "token" }],
    },
  },
  routes: { chat: { targets: [{ model: "anthropic/claude-sonnet-4-5" }, { model: "openai/gpt-4o-mini" }] } },
});
`;

const env = () => ({
  ADMIN_TOKEN: SECRETS.adminToken.value,
  COLLECTOR_URL: collector.url,
  COLLECTOR_KEY: SECRETS.collectorKey.value,
  HELD_OPENAI: SECRETS.heldOpenai.value,
  HELD_GOOGLE: SECRETS.heldGoogle.value,
  HELD_WORKERS: SECRETS.heldWorkers.value,
  HELD_CUSTOM: SECRETS.heldCustom.value,
  HELD_ANTHROPIC: SECRETS.heldAnthropicGateway.value,
  CONFIG_TOKEN: SECRETS.configToken.value,
  NAMED_TOKEN: SECRETS.namedToken.value,
  SWITCHBOARD_ADMIN_TOKEN: "",
});

const configPath = () => join(folder.path, "gateway.config.ts");
const serve = async () => {
  const server = await startServe([BUN, MAIN, "serve", "--config", configPath(), "--port", "0"], { cwd: folder.path, env: env() });
  servers.push(server);
  return server;
};

/** Reads an answer whole and keeps it (headers and body) for the scan. */
async function keep(where: string, response: Response, kind: Kind = "answer", allow: SecretName[] = []): Promise<{ status: number; text: string }> {
  const text = await response.text();
  answers.push({ where, status: response.status, cache: response.headers.get("cf-aig-cache-status") });
  outputs.push({ kind, where: `answer to ${where}`, content: `${response.status}\n${JSON.stringify([...response.headers])}\n${text}`, allow });
  return { status: response.status, text };
}

/** Every file under `path`, read as bytes. */
function filesUnder(path: string): { name: string; bytes: Buffer }[] {
  return readdirSync(path, { recursive: true })
    .map(String)
    .filter((name) => statSync(join(path, name)).isFile())
    .map((name) => ({ name, bytes: readFileSync(join(path, name)) }));
}

const chat = (content: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content }] });
const json = { "content-type": "application/json" };

/** Traffic over every route, successes and failures, carrying the secrets. */
async function traffic(url: string): Promise<void> {
  const base = (gateway: string) => `${url}/v1/local/${gateway}`;
  const admin = { authorization: `Bearer ${SECRETS.adminToken.value}` };
  const adminApi = `${url}/client/v4/accounts/local/ai-gateway/gateways`;
  const token = (value: string) => ({ "cf-aig-authorization": `Bearer ${value}` });
  const post = (where: string, target: string, body: unknown, headers: Record<string, string>) =>
    fetch(target, { method: "POST", headers: { ...json, ...headers }, body: JSON.stringify(body) }).then((r) => keep(where, r));

  // A token made with the admin API: its answer is the one place it may appear.
  const created = await fetch(`${adminApi}/locked/tokens`, { method: "POST", headers: { ...json, ...admin }, body: JSON.stringify({ name: "api" }) });
  const createdBody = (await created.clone().json()) as { result: { token: string } };
  made.apiToken = { value: createdBody.result.token, tail: createdBody.result.token.slice(-16) };
  await keep("POST tokens (the creation answer carries the new token once)", created, "admin", ["apiToken"]);

  // Provider route: client keys, held keys, upstream failures, streams, a Google ?key=.
  await post("openai with the client's key", `${base("default")}/openai/chat/completions`, chat("one"), { authorization: `Bearer ${SECRETS.clientKey.value}` });
  await post("openai with the held key", `${base("default")}/openai/chat/completions`, chat("two"), {});
  await post("openai answering 401", `${base("default")}/openai/chat/completions`, chat("three"), { authorization: `Bearer ${SECRETS.clientKey.value}`, "x-mock-status": "401" });
  await post("openai answering 500", `${base("default")}/openai/chat/completions`, chat("four"), { "x-mock-status": "500" });
  await post("openai streaming", `${base("default")}/openai/chat/completions`, { ...chat("five"), stream: true }, { authorization: `Bearer ${SECRETS.clientKey.value}` });
  await post("openai stream that breaks", `${base("default")}/openai/chat/completions`, { ...chat("six"), stream: true }, { "x-mock-break-after": "1" }).catch(() => undefined);
  await post("anthropic with the client's x-api-key", `${base("default")}/anthropic/v1/messages`, { model: "claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }, { "x-api-key": SECRETS.clientAnthropic.value, "anthropic-version": "2023-06-01" });
  await post("anthropic answering 401", `${base("default")}/anthropic/v1/messages`, { model: "claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }, { "x-api-key": SECRETS.clientAnthropic.value, "anthropic-version": "2023-06-01", "x-mock-status": "401" });
  await post("google with ?key=", `${base("default")}/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent?key=${SECRETS.queryKey.value}`, { contents: [{ role: "user", parts: [{ text: "hi" }] }] }, {});
  await post("workers-ai with the held key", `${base("default")}/workers-ai/@cf/meta/llama-3.1-8b-instruct`, { prompt: "hi" }, {});
  await post("custom with the held key", `${base("default")}/custom-mock/echo`, {}, {});
  // The semantic cache embeds with the held key; the second prompt is a semantic hit.
  await post("semantic cache miss", `${base("cached")}/openai/chat/completions`, chat("cache me"), { authorization: `Bearer ${SECRETS.clientKey.value}` });
  await post("semantic cache hit", `${base("cached")}/openai/chat/completions`, chat("cache m3"), { authorization: `Bearer ${SECRETS.clientKey.value}` });
  await post("locked with the config token", `${base("locked")}/openai/chat/completions`, chat("seven"), token(SECRETS.configToken.value));
  await post("locked with the named token", `${base("locked")}/anthropic/v1/messages`, { model: "claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }, { ...token(SECRETS.namedToken.value), "anthropic-version": "2023-06-01" });
  await post("locked with the API-made token", `${base("locked")}/openai/chat/completions`, chat("eight"), token(made.apiToken.value));
  await post("locked with the CLI-made token", `${base("locked")}/openai/chat/completions`, chat("nine"), token(made.cliToken!.value));
  await post("locked with a wrong token", `${base("locked")}/openai/chat/completions`, chat("ten"), token(SECRETS.badToken.value));
  await post("locked with a token one character off", `${base("locked")}/openai/chat/completions`, chat("eleven"), token(`${SECRETS.configToken.value}x`));
  await post("locked with the token as a provider key", `${base("locked")}/openai/chat/completions`, chat("twelve"), { authorization: `Bearer ${SECRETS.configToken.value}` });

  // Universal: keys in step headers, a failing first step, a bad token.
  const steps = [
    { provider: "openai", endpoint: "chat/completions", headers: { authorization: `Bearer ${SECRETS.clientKey.value}`, "x-mock-status": "500" }, query: chat("u1") },
    { provider: "workers-ai", endpoint: "@cf/meta/llama-3.1-8b-instruct", query: { prompt: "u2" } },
  ];
  await post("Universal with a failing step", base("default"), steps, {});
  await post("Universal on locked", base("locked"), steps.slice(1), token(SECRETS.configToken.value));
  await post("Universal with a wrong token", base("locked"), steps.slice(1), token(SECRETS.badToken.value));

  // Compat: the bearer as provider key (open gateway) and as gateway token (locked), routes, refusals.
  const compat = (gateway: string) => `${base(gateway)}/compat/chat/completions`;
  await post("compat openai with the client's key", compat("default"), { ...chat("c1"), model: "openai/gpt-4o-mini" }, { authorization: `Bearer ${SECRETS.clientKey.value}` });
  await post("compat anthropic with the client's key", compat("default"), { ...chat("c2"), model: "anthropic/claude-sonnet-4-5" }, { authorization: `Bearer ${SECRETS.clientAnthropic.value}` });
  await post("compat gemini with the held key", compat("default"), { ...chat("c3"), model: "google-ai-studio/gemini-2.5-flash", stream: true }, {});
  await post("compat on locked, the token as bearer", compat("locked"), { ...chat("c4"), model: "anthropic/claude-sonnet-4-5" }, { authorization: `Bearer ${SECRETS.configToken.value}` });
  await post("compat route on locked", compat("locked"), { ...chat("c5"), model: "dynamic/chat" }, { authorization: `Bearer ${SECRETS.namedToken.value}` });
  await post("compat with a wrong bearer on locked", compat("locked"), { ...chat("c6"), model: "openai/gpt-4o-mini" }, { authorization: `Bearer ${SECRETS.badToken.value}` });
  await post("compat answering 401", compat("default"), { ...chat("c7"), model: "openai/gpt-4o-mini" }, { authorization: `Bearer ${SECRETS.clientKey.value}`, "x-mock-status": "401" });
  await post("compat embeddings", `${base("default")}/compat/embeddings`, { model: "openai/text-embedding-3-small", input: "hi" }, { authorization: `Bearer ${SECRETS.clientKey.value}` });
  await keep("compat models on locked", await fetch(`${base("locked")}/compat/models`, { headers: { authorization: `Bearer ${SECRETS.configToken.value}` } }));

  // WebSocket: the token as a subprotocol, keys in step headers, a provider failure, a refused upgrade.
  const socket = await openSocket("ws", wsUrl(base("locked")), { protocols: ["realtime", `cf-aig-authorization.${SECRETS.configToken.value}`] });
  socket.create({ eventId: "ws-1", provider: "openai", endpoint: "chat/completions", headers: { authorization: `Bearer ${SECRETS.clientKey.value}` }, query: chat("w1") });
  socket.create({ eventId: "ws-2", provider: "openai", endpoint: "chat/completions", headers: { "x-mock-status": "401" }, query: { ...chat("w2"), stream: true } });
  socket.create({ eventId: "ws-3", provider: "anthropic", endpoint: "v1/messages", headers: { "anthropic-version": "2023-06-01" }, query: { model: "claude-sonnet-4-5", max_tokens: 10, stream: true, messages: [{ role: "user", content: "w3" }] } });
  for (const id of ["ws-1", "ws-2", "ws-3"]) await socket.result(id);
  outputs.push({ kind: "socket", where: "WebSocket frames", content: `${socket.protocol}\n${JSON.stringify(socket.frames)}` });
  await socket[Symbol.asyncDispose]();
  const refusal = await refusedUpgrade(wsUrl(base("locked")), { protocols: [`cf-aig-authorization.${SECRETS.badToken.value}`] });
  outputs.push({ kind: "socket", where: "refused WebSocket upgrade", content: JSON.stringify(refusal) });
  answers.push({ where: "refused WebSocket upgrade", status: refusal.status });

  // Realtime relay: the client's key as a subprotocol, the gateway token too.
  const session = realtime.next();
  const relay = await openSocket("ws", `${wsUrl(base("locked"))}/custom-rt/live`, { protocols: ["realtime", `openai-insecure-api-key.${SECRETS.subprotocolKey.value}`, `cf-aig-authorization.${SECRETS.namedToken.value}`] });
  (await session).send(JSON.stringify({ hello: "from the provider" }));
  await relay.waitFor((frame) => "hello" in (frame as unknown as Record<string, unknown>));
  outputs.push({ kind: "socket", where: "realtime relay frames", content: `${relay.protocol}\n${JSON.stringify(relay.frames)}` });
  await relay[Symbol.asyncDispose]();

  // Admin API and metrics: wrong and missing admin tokens, then the real one.
  const wrongAdmin: Record<string, string>[] = [{}, { authorization: `Bearer ${SECRETS.badToken.value}` }, { authorization: SECRETS.adminToken.value }];
  for (const headers of wrongAdmin) {
    await keep("admin API with a wrong admin token", await fetch(`${adminApi}/locked/tokens`, { headers }), "admin");
    await keep("metrics with a wrong admin token", await fetch(`${url}/metrics`, { headers }), "metrics");
  }
  await keep("tokens list", await fetch(`${adminApi}/locked/tokens`, { headers: admin }), "admin");
  await keep("gateways", await fetch(adminApi, { headers: admin }), "admin");
  await keep("gateway", await fetch(`${adminApi}/locked`, { headers: admin }), "admin");
  await keep("breakers", await fetch(`${adminApi}/default/breakers`, { headers: admin }), "admin");
  await keep("budgets", await fetch(`${adminApi}/locked/budgets`, { headers: admin }), "admin");
  await keep("health", await fetch(`${url}/health`));
}

/** The logs API, the analytics and the dashboard, read whole. */
async function readBack(url: string): Promise<number> {
  const admin = { authorization: `Bearer ${SECRETS.adminToken.value}` };
  const adminApi = `${url}/client/v4/accounts/local/ai-gateway/gateways`;
  let logs = 0;
  for (const gateway of ["default", "cached", "locked"]) {
    for (let page = 1; ; page++) {
      const list = await keep(`logs of ${gateway}, page ${page}`, await fetch(`${adminApi}/${gateway}/logs?per_page=50&page=${page}`, { headers: admin }), "admin");
      const { result } = JSON.parse(list.text) as { result: { id: string }[] };
      for (const { id } of result) {
        logs++;
        await keep(`log ${id}`, await fetch(`${adminApi}/${gateway}/logs/${id}`, { headers: admin }), "admin");
        await keep(`log ${id} request`, await fetch(`${adminApi}/${gateway}/logs/${id}/request`, { headers: admin }), "admin");
        await keep(`log ${id} response`, await fetch(`${adminApi}/${gateway}/logs/${id}/response`, { headers: admin }), "admin");
      }
      if (result.length < 50) break;
    }
    await keep(`analytics of ${gateway}`, await fetch(`${adminApi}/${gateway}/analytics?group_by=model`, { headers: admin }), "admin");
    await keep(`logs of ${gateway} searched for a key`, await fetch(`${adminApi}/${gateway}/logs?search=SECRET`, { headers: admin }), "admin");
  }
  const page = await keep("dashboard page", await fetch(`${url}/`), "dashboard");
  for (const asset of ["app.js", "api.js", "charts.js", "detail.js", "format.js", "style.css"]) await keep(`dashboard asset ${asset}`, await fetch(`${url}/dashboard/${asset}`), "dashboard");
  expect(page.status).toBe(200);
  return logs;
}

let loggedRequests = 0;

beforeAll(async () => {
  upstream = await startMockUpstream();
  realtime = await startMockRealtime();
  collector = await startCollector();
  folder = tempFolder({ "gateway.config.ts": CONFIG(upstream.url, realtime.url) });

  // A token made with the CLI before the gateway starts; `tokens create` prints it once (not scanned).
  const cli = await run([BUN, MAIN, "tokens", "create", "--gateway", "locked", "--name", "cli", "--json", "--config", configPath()], { cwd: folder.path, env: env() });
  const cliToken = (JSON.parse(cli.stdout) as { token: string }).token;
  made.cliToken = { value: cliToken, tail: cliToken.slice(-16) };

  // Run 1: all the traffic, the metrics, the files while running; then a graceful stop writes every record.
  const first = await serve();
  await traffic(first.url);
  await keep("metrics", await fetch(`${first.url}/metrics`, { headers: { authorization: `Bearer ${SECRETS.adminToken.value}` } }), "metrics");
  for (const { name, bytes } of filesUnder(join(folder.path, "data"))) outputs.push({ kind: "file", where: `${name} while running`, content: bytes });
  expect(await first.terminate()).toBe(0);

  // Run 2: the same database read back through the logs API, analytics and dashboard.
  const second = await serve();
  loggedRequests = await readBack(second.url);
  expect(await second.terminate()).toBe(0);

  for (const { name, bytes } of filesUnder(folder.path)) outputs.push({ kind: "file", where: `${name} after stop`, content: bytes });
  servers.forEach((server, i) => {
    const { stdout, stderr } = server.output();
    outputs.push({ kind: "process", where: `stdout of run ${i + 1}`, content: stdout }, { kind: "process", where: `stderr of run ${i + 1}`, content: stderr });
  });
  for (const request of collector.requests) {
    const { "x-api-key": _, ...headers } = request.headers;
    outputs.push({ kind: "otel", where: "OTLP export", content: JSON.stringify({ path: request.path, headers, body: request.body }) });
  }
}, 60_000);

afterAll(async () => {
  for (const server of servers) await server[Symbol.asyncDispose]();
  await collector?.stop();
  await realtime?.[Symbol.asyncDispose]();
  await upstream?.stop();
  folder?.[Symbol.dispose]();
});

/** Each secret found in an output of `kind`, as "<secret> in <where>". */
const found = (kind: Kind) => {
  const scanned = outputs.filter((output) => output.kind === kind);
  // An empty group would pass without scanning anything.
  expect(scanned.length).toBeGreaterThan(0);
  return scanned.flatMap(({ where, content, allow }) => leaks(content, allow).map((name) => `${name} in ${where}`));
};

describe("the secrets were really used", () => {
  test("the provider saw each key where it belongs: held keys injected, client keys passed on, the Google key in the query", () => {
    const seen = JSON.stringify(upstream.requests.map(({ path, search, headers }) => ({ path, search, headers })));

    expect(leaks(seen).sort()).toEqual(["clientAnthropic", "clientKey", "heldAnthropicGateway", "heldGoogle", "heldOpenai", "heldWorkers", "heldCustom", "queryKey"].sort() as SecretName[]);
    expect(JSON.stringify(realtime.sessions.map((s) => [...s.headers]))).toContain(SECRETS.subprotocolKey.value);
    expect(collector.requests.every((request) => request.headers["x-api-key"] === SECRETS.collectorKey.value)).toBe(true);
  });

  test("the scan finds a token where one is meant to be: the admin API's answer that creates it", () => {
    const creation = outputs.find(({ where }) => where.startsWith("answer to POST tokens"))!;

    expect(leaks(creation.content)).toEqual(["apiToken"]);
  });

  test("tokens were accepted and refused as they should be, so the scan covers both paths", () => {
    const status = (where: string) => answers.find((answer) => answer.where === where)?.status;

    expect({
      upstream401: status("openai answering 401"),
      upstream500: status("openai answering 500"),
      anthropic401: status("anthropic answering 401"),
      compat401: status("compat answering 401"),
      semantic: answers.find((answer) => answer.where === "semantic cache hit")?.cache,
      config: status("locked with the config token"),
      named: status("locked with the named token"),
      api: status("locked with the API-made token"),
      cli: status("locked with the CLI-made token"),
      wrong: status("locked with a wrong token"),
      offByOne: status("locked with a token one character off"),
      compatToken: status("compat on locked, the token as bearer"),
      compatWrong: status("compat with a wrong bearer on locked"),
      upgrade: status("refused WebSocket upgrade"),
    }).toEqual({ upstream401: 401, upstream500: 500, anthropic401: 401, compat401: 401, semantic: "HIT", config: 200, named: 200, api: 200, cli: 200, wrong: 401, offByOne: 401, compatToken: 200, compatWrong: 401, upgrade: 401 });
    expect(loggedRequests).toBeGreaterThan(30);
  });
});

describe("no output holds a secret", () => {
  test("answers: bodies and headers of every route, refusals and provider failures included", () => {
    expect(found("answer")).toEqual([]);
  });

  test("WebSocket frames, the refused upgrade and the realtime relay", () => {
    expect(found("socket")).toEqual([]);
  });

  test("the gateway's stdout and stderr", () => {
    expect(found("process")).toEqual([]);
  });

  test("GET /metrics, with and without the admin token", () => {
    expect(found("metrics")).toEqual([]);
  });

  test("the OTLP spans sent to the collector", () => {
    expect(found("otel")).toEqual([]);
  });

  test("the admin API: tokens, gateways, every log with its request and response bodies, analytics, a search for the keys", () => {
    expect(found("admin")).toEqual([]);
  });

  test("the dashboard page and its assets", () => {
    expect(found("dashboard")).toEqual([]);
  });

  test("every file the gateway wrote, read as bytes: SQLite databases and their WAL, while running and after stop", () => {
    const files = outputs.filter(({ kind }) => kind === "file").map(({ where }) => where);

    expect(files.some((where) => where.includes("gateway.db") && where.endsWith("while running"))).toBe(true);
    expect(files.some((where) => where.includes("-wal"))).toBe(true);
    expect(found("file")).toEqual([]);
  });
});
