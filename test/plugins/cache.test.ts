import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cache, MAX_TTL_SECONDS } from "../../plugins/cache/index.ts";
import { definePlugin, ErrorCode, type Config } from "../../src/sdk.ts";
import { openDatabase } from "../../src/store/sqlite/db.ts";
import { SqliteCacheStore } from "../../src/store/sqlite/cache.ts";
import { MemoryCacheFront } from "../../src/store/memory/cache-front.ts";
import type { CacheEntry } from "../../src/store/cache.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { startTestGateway } from "../support/gateway.ts";
import { MOCK_REPLY } from "../support/mock-upstream.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";

const CHAIN: Config["plugins"] = ["metadata", "cache", "logging"];
const GATEWAYS: Config["gateways"] = { cached: { cache: { ttl: 3600 } }, other: { cache: { ttl: 3600 } } };

let prompts = 0;
/** A chat body no other test sends, so tests never see each other's entries. */
const freshChat = (extra: object = {}) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${++prompts}` }], ...extra });

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer sk-alice", ...headers }, body: JSON.stringify(body) });
}

/** Status, cache status and body of an answer, for one `toEqual`. */
async function seen(response: Response) {
  return { status: response.status, cache: response.headers.get("cf-aig-cache-status"), type: response.headers.get("content-type"), body: await response.text() };
}

/** Resolves once `n` requests have entered the chain (a plugin placed before "cache"). */
function entryProbe(n: number) {
  const all = Promise.withResolvers<void>();
  let entered = 0;
  const plugin = definePlugin({
    name: "probe",
    handle(_ctx, next) {
      if (++entered === n) all.resolve();
      return next();
    },
  });
  return { plugin, allEntered: all.promise };
}

/** An upstream that answers each request only when the test says how: `arrival(i)` yields the i-th request's responder. */
function heldUpstream() {
  const arrivals: PromiseWithResolvers<(response: Response) => void>[] = [];
  const slot = (i: number) => (arrivals[i] ??= Promise.withResolvers());
  let calls = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch() {
      const answer = Promise.withResolvers<Response>();
      slot(calls++).resolve(answer.resolve);
      return answer.promise;
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    get calls() {
      return calls;
    },
    arrival: (i: number) => slot(i).promise,
    [Symbol.asyncDispose]: () => server.stop(true),
  };
}

const completion = (n: number) => Response.json({ id: `chatcmpl-held-${n}`, object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: `answer ${n}` } }] });

let t: GatewayWithMock;
let openaiUrl: (gateway?: string) => string;
beforeAll(async () => {
  t = await gatewayWithMock({ gateways: GATEWAYS, plugins: CHAIN });
  openaiUrl = (gateway = "default") => `${t.gw.base(gateway)}/openai/chat/completions`;
});
afterAll(() => t[Symbol.asyncDispose]());

describe("turning the cache on and off", () => {
  test("is off by default: identical requests both go upstream and answer MISS", async () => {
    const body = freshChat();
    const before = t.upstream.requests.length;
    const first = await seen(await post(openaiUrl(), body));
    const second = await seen(await post(openaiUrl(), body));
    expect([first.cache, second.cache]).toEqual(["MISS", "MISS"]);
    expect(t.upstream.requests.length - before).toBe(2);
  });

  test("a gateway ttl answers the second identical request from the cache, byte for byte", async () => {
    const body = freshChat();
    const before = t.upstream.requests.length;
    const miss = await post(openaiUrl("cached"), body);
    const first = await seen(miss);
    const hit = await post(openaiUrl("cached"), body);
    expect(await seen(hit)).toEqual({ ...first, cache: "HIT" });
    expect(first).toMatchObject({ status: 200, cache: "MISS", type: expect.stringContaining("application/json") });
    expect(t.upstream.requests.length - before).toBe(1);
    const [missLog, hitLog] = [await t.log(miss, "cached"), await t.log(hit, "cached")];
    expect({ cached: missLog?.cached, paid: (missLog?.cost ?? 0) > 0 }).toEqual({ cached: false, paid: true });
    expect({ cached: hitLog?.cached, cost: hitLog?.cost, status: hitLog?.status_code }).toEqual({ cached: true, cost: 0, status: 200 });
  });

  test("a hit is logged with its payloads like a miss: the request it answered and the answer it replayed", async () => {
    const body = freshChat();
    const miss = await post(openaiUrl("cached"), body);
    const answer = await miss.text();
    const hit = await post(openaiUrl("cached"), body);
    expect(await hit.text()).toBe(answer);

    const hitLog = await t.log(hit, "cached");
    const logs = t.gw.running.handle.stores.logs;
    const text = async (side: "request" | "response") => new TextDecoder().decode((await logs.payload("cached", hitLog!.id, side))?.body ?? new Uint8Array());
    expect({ cached: hitLog?.cached, request: await text("request"), response: await text("response") }).toEqual({ cached: true, request: JSON.stringify(body), response: answer });
  });

  test("cf-aig-cache-ttl turns it on for one request, and the deprecated cf-cache-ttl too", async () => {
    for (const header of ["cf-aig-cache-ttl", "cf-cache-ttl"]) {
      const body = freshChat();
      const before = t.upstream.requests.length;
      const first = await seen(await post(openaiUrl(), body, { [header]: "120" }));
      const second = await seen(await post(openaiUrl(), body, { [header]: "120" }));
      expect([first.cache, second.cache, second.body]).toEqual(["MISS", "HIT", first.body]);
      expect(t.upstream.requests.length - before).toBe(1);
      expect(t.upstream.lastRequest()?.headers[header]).toBeUndefined();
    }
  });

  test("cf-aig-cache-ttl: 0 turns it off on a caching gateway: no read, no write", async () => {
    const body = freshChat();
    const before = t.upstream.requests.length;
    const off = await seen(await post(openaiUrl("cached"), body, { "cf-aig-cache-ttl": "0" }));
    const on = await seen(await post(openaiUrl("cached"), body));
    const offAgain = await seen(await post(openaiUrl("cached"), body, { "cf-aig-cache-ttl": "0" }));
    expect([off.cache, on.cache, offAgain.cache]).toEqual(["MISS", "MISS", "MISS"]);
    expect(t.upstream.requests.length - before).toBe(3);
  });

  test("cf-aig-skip-cache (and cf-skip-cache) neither read nor write", async () => {
    const body = freshChat();
    const before = t.upstream.requests.length;
    const skipped = await seen(await post(openaiUrl("cached"), body, { "cf-aig-skip-cache": "true" }));
    const stored = await seen(await post(openaiUrl("cached"), body));
    const skippedAgain = await seen(await post(openaiUrl("cached"), body, { "cf-skip-cache": "true" }));
    const hit = await seen(await post(openaiUrl("cached"), body));
    expect([skipped.cache, stored.cache, skippedAgain.cache, hit.cache]).toEqual(["MISS", "MISS", "MISS", "HIT"]);
    expect(t.upstream.requests.length - before).toBe(3);
    expect(t.upstream.lastRequest()?.headers["cf-skip-cache"]).toBeUndefined();
  });

  test("an unusable ttl is refused with 400/2104 and nothing goes upstream", async () => {
    const before = t.upstream.requests.length;
    for (const value of ["soon", "-5", "1.5", String(MAX_TTL_SECONDS + 1)]) {
      const message = await expectGatewayError(await post(openaiUrl(), freshChat(), { "cf-aig-cache-ttl": value }), 400, ErrorCode.InvalidHeader);
      expect(message).toContain("cf-aig-cache-ttl");
    }
    expect(await expectGatewayError(await post(openaiUrl(), freshChat(), { "cf-aig-skip-cache": "maybe" }), 400, ErrorCode.InvalidHeader)).toContain("cf-aig-skip-cache");
    expect(t.upstream.requests.length).toBe(before);
  });
});

describe("what the key covers", () => {
  test("cf-aig-cache-key alone opts in; different bodies with the same key share the entry, per gateway", async () => {
    const key = { "cf-aig-cache-key": `faq-${++prompts}` };
    const before = t.upstream.requests.length;
    const first = await seen(await post(openaiUrl(), freshChat(), key));
    const sameKey = await seen(await post(openaiUrl(), freshChat(), key));
    const otherGateway = await seen(await post(openaiUrl("other"), freshChat(), key));
    expect([first.cache, sameKey.cache, sameKey.body, otherGateway.cache]).toEqual(["MISS", "HIT", first.body, "MISS"]);
    expect(t.upstream.requests.length - before).toBe(2);
  });

  test("clients with different credentials never share an entry (Authorization and x-api-key)", async () => {
    const openaiBody = freshChat();
    const alice = await seen(await post(openaiUrl("cached"), openaiBody));
    const bob = await seen(await post(openaiUrl("cached"), openaiBody, { authorization: "Bearer sk-bob" }));
    const aliceAgain = await seen(await post(openaiUrl("cached"), openaiBody));
    expect([alice.cache, bob.cache, aliceAgain.cache]).toEqual(["MISS", "MISS", "HIT"]);
    expect(bob.body).not.toBe(alice.body);

    const messages = `${t.gw.base("cached")}/anthropic/v1/messages`;
    const anthropicBody = { model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: `question ${++prompts}` }] };
    const asKey = (key: string) => ({ authorization: "", "x-api-key": key, "anthropic-version": "2023-06-01" });
    const carol = await seen(await post(messages, anthropicBody, asKey("sk-ant-carol")));
    const dave = await seen(await post(messages, anthropicBody, asKey("sk-ant-dave")));
    const carolAgain = await seen(await post(messages, anthropicBody, asKey("sk-ant-carol")));
    const carolBearer = await seen(await post(messages, anthropicBody, { authorization: "Bearer sk-ant-carol", "anthropic-version": "2023-06-01" }));
    expect([carol.cache, dave.cache, carolAgain.cache, carolBearer.cache]).toEqual(["MISS", "MISS", "HIT", "MISS"]);
    expect(carol.status).toBe(200);
  });

  test("cf-aig-metadata is not part of the key", async () => {
    const body = freshChat();
    const first = await seen(await post(openaiUrl("cached"), body, { "cf-aig-metadata": JSON.stringify({ user: "ada" }) }));
    const second = await seen(await post(openaiUrl("cached"), body, { "cf-aig-metadata": JSON.stringify({ user: "grace", team: "ml" }) }));
    expect([first.cache, second.cache, second.body]).toEqual(["MISS", "HIT", first.body]);
  });
});

describe("what is stored", () => {
  test("non-2xx answers are not cached", async () => {
    const body = freshChat();
    const before = t.upstream.requests.length;
    const first = await seen(await post(openaiUrl("cached"), body, { "x-mock-status": "503" }));
    const second = await seen(await post(openaiUrl("cached"), body, { "x-mock-status": "503" }));
    expect([first.status, first.cache, second.status, second.cache]).toEqual([503, "MISS", 503, "MISS"]);
    expect(t.upstream.requests.length - before).toBe(2);
  });

  test("a streaming answer is replayed as the same SSE stream", async () => {
    const body = freshChat({ stream: true, stream_options: { include_usage: true } });
    const before = t.upstream.requests.length;
    const miss = await post(openaiUrl("cached"), body);
    const first = await seen(miss);
    const hit = await post(openaiUrl("cached"), body);
    expect(await seen(hit)).toEqual({ ...first, cache: "HIT" });
    expect(first.type).toContain("text/event-stream");
    expect(first.body).toEndWith("data: [DONE]\n\n");
    expect(t.upstream.requests.length - before).toBe(1);
    const hitLog = await t.log(hit, "cached");
    expect({ cached: hitLog?.cached, cost: hitLog?.cost, tokensOut: hitLog?.tokens_out }).toEqual({ cached: true, cost: 0, tokensOut: 5 });
  });

  test("the openai client streams the same text from the provider and from the cache", async () => {
    const client = new OpenAI({ baseURL: `${t.gw.base("cached")}/openai`, apiKey: "sk-alice", maxRetries: 0 });
    const params = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: `question ${++prompts}` }], stream: true as const };
    const before = t.upstream.requests.length;
    const runs: { cache: string | null; text: string }[] = [];
    for (let i = 0; i < 2; i++) {
      const { data: stream, response } = await client.chat.completions.create(params).withResponse();
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      runs.push({ cache: response.headers.get("cf-aig-cache-status"), text });
    }
    expect(runs).toEqual([
      { cache: "MISS", text: MOCK_REPLY },
      { cache: "HIT", text: MOCK_REPLY },
    ]);
    expect(t.upstream.requests.length - before).toBe(1);
  });
});

describe("coalescing concurrent misses", () => {
  test("10 identical requests while the provider holds its answer make one upstream call; the rest answer HIT", async () => {
    await using upstream = heldUpstream();
    const probe = entryProbe(10);
    await using gw = await startTestGateway({ upstream: upstream.url, config: { gateways: GATEWAYS, plugins: [probe.plugin, "cache", "logging"] } });
    const url = `${gw.base("cached")}/openai/chat/completions`;
    const body = freshChat();
    const answers = Array.from({ length: 10 }, () => post(url, body).then(seen));
    const respond = await upstream.arrival(0);
    await probe.allEntered;
    respond(completion(1));
    const results = await Promise.all(answers);
    expect(upstream.calls).toBe(1);
    expect(new Set(results.map((r) => JSON.parse(r.body).id))).toEqual(new Set(["chatcmpl-held-1"]));
    expect(results.map((r) => r.cache).sort()).toEqual([...Array(9).fill("HIT"), "MISS"]);
  });

  test("when the leader's answer is not cacheable, each follower goes upstream on its own", async () => {
    await using upstream = heldUpstream();
    const probe = entryProbe(5);
    await using gw = await startTestGateway({ upstream: upstream.url, config: { gateways: GATEWAYS, plugins: [probe.plugin, "cache", "logging"] } });
    const url = `${gw.base("cached")}/openai/chat/completions`;
    const body = freshChat();
    const answers = Array.from({ length: 5 }, () => post(url, body).then(seen));
    const respondLeader = await upstream.arrival(0);
    await probe.allEntered;
    respondLeader(Response.json({ error: { message: "overloaded" } }, { status: 503 }));
    for (let i = 1; i < 5; i++) (await upstream.arrival(i))(completion(i + 1));
    const results = await Promise.all(answers);
    expect(upstream.calls).toBe(5);
    expect(results.map((r) => `${r.status} ${r.cache}`).sort()).toEqual(["200 MISS", "200 MISS", "200 MISS", "200 MISS", "503 MISS"]);
  });

  test("followers of a streaming leader wait for the whole stream, then replay it", async () => {
    const probe = entryProbe(10);
    await using s = await gatewayWithMock({ gateways: GATEWAYS, plugins: [probe.plugin, "cache", "logging"] });
    const held = s.upstream.holdStream();
    const url = `${s.gw.base("cached")}/openai/chat/completions`;
    const body = freshChat({ stream: true });
    const answers = Array.from({ length: 10 }, () => post(url, body).then(seen));
    await held.firstChunkSent;
    await probe.allEntered;
    held.release();
    const results = await Promise.all(answers);
    expect(s.upstream.requests.length).toBe(1);
    expect(new Set(results.map((r) => r.body)).size).toBe(1);
    expect(results[0].body).toContain('"content":" upstream."');
    expect(results.filter((r) => r.cache === "HIT").length).toBe(9);
    const logs = await s.logs("cached");
    expect(logs.filter((log) => log.cached).map((log) => log.cost)).toEqual(Array(9).fill(0));
    expect(logs.filter((log) => !log.cached).length).toBe(1);
  });
});

describe("lifetime of an entry", () => {
  test("entries survive a restart on the same SQLite file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-cache-"));
    const config = { gateways: GATEWAYS, plugins: CHAIN, storage: { sqlite: join(dir, "gateway.db") } };
    const body = freshChat();
    const before = t.upstream.requests.length;
    try {
      const first = await startTestGateway({ upstream: t.upstream.url, config });
      const miss = await seen(await post(`${first.base("cached")}/openai/chat/completions`, body));
      await first.stop();
      await using second = await startTestGateway({ upstream: t.upstream.url, config });
      const hit = await seen(await post(`${second.base("cached")}/openai/chat/completions`, body));
      expect(hit).toEqual({ ...miss, cache: "HIT" });
      expect(t.upstream.requests.length - before).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an expired entry is never served", async () => {
    let clock = Date.now();
    await using s = await gatewayWithMock({ gateways: GATEWAYS, plugins: [cache({ now: () => clock }), "logging"] });
    const url = `${s.gw.base()}/openai/chat/completions`;
    const body = freshChat();
    const statuses: (string | null)[] = [];
    const send = async () => {
      const { cache } = await seen(await post(url, body, { "cf-aig-cache-ttl": "60" }));
      statuses.push(cache);
      await s.gw.settle();
    };
    await send();
    clock += 59_999;
    await send();
    clock += 1;
    await send();
    expect(statuses).toEqual(["MISS", "HIT", "MISS"]);
    expect(s.upstream.requests.length).toBe(2);
  });

  const entry: Omit<CacheEntry, "expiresAt"> = { status: 200, headers: [["content-type", "application/json"]], body: new TextEncoder().encode("{}"), step: 0, createdAt: 1_000 };

  test("the store never returns expired entries and purges them", async () => {
    const store = new SqliteCacheStore(openDatabase(":memory:"));
    await store.put("gw:old", { ...entry, expiresAt: 2_000 });
    await store.put("gw:live", { ...entry, expiresAt: 10_000 });
    expect(await store.get("gw:old", 2_000)).toBeNull();
    expect(await store.get("gw:live", 2_000)).toEqual({ ...entry, expiresAt: 10_000 });
    expect(await store.purgeExpired(2_000)).toBe(1);
    expect(await store.get("gw:old", 0)).toBeNull();
    expect(await store.delete("gw:live")).toBe(true);
    expect(await store.get("gw:live", 0)).toBeNull();
  });

  test("the in-memory front keeps the hottest entries within its byte budget and never outlives the store", async () => {
    const sqlite = new SqliteCacheStore(openDatabase(":memory:"));
    const front = new MemoryCacheFront(sqlite, { maxBytes: 1_100, maxEntryBytes: 600 });
    const sized = (bytes: number): CacheEntry => ({ ...entry, body: new Uint8Array(bytes), expiresAt: 10_000 });
    await front.put("a", sized(400));
    await front.put("b", sized(400));
    await front.get("a", 0); // a is now the most recently used
    await front.put("c", sized(400)); // over budget: b, the coldest, leaves memory
    await front.put("huge", sized(5_000)); // larger than maxEntryBytes: SQLite only
    expect(front.bytes).toBe(2 * (400 + 128));
    expect((await front.get("b", 0))?.body.byteLength).toBe(400); // still served, from SQLite
    expect((await front.get("huge", 0))?.body.byteLength).toBe(5_000);
    expect(await front.get("a", 10_000)).toBeNull();
    expect(await front.delete("c")).toBe(true);
    expect([await front.get("c", 0), await sqlite.get("c", 0)]).toEqual([null, null]);
  });
});
