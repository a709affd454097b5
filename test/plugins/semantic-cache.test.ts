import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../../src/sdk.ts";
import { openDatabase } from "../../src/store/sqlite/db.ts";
import { SqliteVectorIndex } from "../../src/store/sqlite/vectors.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";

/**
 * A custom provider's OpenAI-compatible `/v1/embeddings` that maps each known text to a chosen vector
 * (400 for a text no test registered; everything under `/broken` answers 500), and remembers what it was sent.
 */
function embeddingMock() {
  const vectors = new Map<string, number[]>();
  const received: { path: string; authorization: string | null; body: { model: string; input: string } }[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const body = (await request.json()) as { model: string; input: string };
      const path = new URL(request.url).pathname;
      received.push({ path, authorization: request.headers.get("authorization"), body });
      if (path.startsWith("/broken/")) return Response.json({ error: { message: "overloaded" } }, { status: 500 });
      const embedding = vectors.get(body.input);
      if (!embedding) return Response.json({ error: { message: `unknown text ${body.input}` } }, { status: 400 });
      return Response.json({ object: "list", data: [{ object: "embedding", index: 0, embedding }], model: body.model, usage: { prompt_tokens: 5, total_tokens: 5 } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, vectors, received, stop: () => server.stop(true) };
}

const DIMENSIONS = 32;
let topics = 0;
/**
 * Vectors of one topic no other test uses: `near(c)` has cosine similarity `c` with `base` (axes 2k and
 * 2k+1 belong to topic k alone, so topics never come near each other).
 */
function topic() {
  const axis = 2 * topics++;
  const at = (c: number) => {
    const v = new Array<number>(DIMENSIONS).fill(0);
    v[axis] = c;
    v[axis + 1] = Math.sqrt(1 - c * c);
    return v;
  };
  return { base: at(1), near: at };
}

const SEMANTIC = { threshold: 0.95, embed: { provider: "custom-embed", model: "embed-1" } };
let embedder: ReturnType<typeof embeddingMock>;
let t: GatewayWithMock;

beforeAll(async () => {
  embedder = embeddingMock();
  const gateways: Config["gateways"] = {
    semantic: { cache: { ttl: 3600, semantic: SEMANTIC } },
    broken: { cache: { ttl: 3600, semantic: { ...SEMANTIC, embed: { provider: "custom-broken", model: "embed-1" } } } },
    exact: { cache: { ttl: 3600 } },
  };
  t = await gatewayWithMock({
    gateways,
    plugins: ["cache", "logging"],
    providers: {
      "custom-embed": { baseUrl: `${embedder.url}/v1`, apiKey: "sk-embed-held" },
      "custom-broken": { baseUrl: `${embedder.url}/broken` },
    },
  });
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
  await embedder.stop();
});

/** Registers `text` (a single user message) with its vector; returns the chat body that embeds as it. */
function chat(text: string, vector: number[], extra: object = {}) {
  embedder.vectors.set(`user: ${text}`, vector);
  return { model: "gpt-4o-mini", messages: [{ role: "user", content: text }], ...extra };
}

async function ask(gateway: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${t.gw.base(gateway)}/openai/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-alice", ...headers },
    body: JSON.stringify(body),
  });
  const seen = { status: response.status, cache: response.headers.get("cf-aig-cache-status"), similarity: response.headers.get("cf-aig-cache-similarity"), body: await response.text() };
  // The answer is stored and its vector indexed once the request completed.
  await t.gw.settle();
  return seen;
}

const chatCalls = () => t.upstream.requests.filter((r) => r.path === "/v1/chat/completions").length;

describe("semantic cache", () => {
  test("a paraphrase above the threshold answers HIT with the stored answer and its similarity, sending nothing upstream", async () => {
    const france = topic();
    const first = await ask("semantic", chat("What is the capital of France?", france.base));
    expect(first).toMatchObject({ status: 200, cache: "MISS", similarity: null });
    const calls = chatCalls();
    const paraphrase = await ask("semantic", chat("Tell me the capital city of France", france.near(0.97)));
    expect(paraphrase).toEqual({ status: 200, cache: "HIT", similarity: "0.97", body: first.body });
    expect(chatCalls()).toBe(calls);
    // Embedded through the gateway's own route with its held key, never the client's.
    expect(embedder.received.slice(-2)).toEqual([
      { path: "/v1/embeddings", authorization: "Bearer sk-embed-held", body: { model: "embed-1", input: "user: What is the capital of France?", encoding_format: "float" } as never },
      { path: "/v1/embeddings", authorization: "Bearer sk-embed-held", body: { model: "embed-1", input: "user: Tell me the capital city of France", encoding_format: "float" } as never },
    ]);
  });

  test("a prompt below the threshold is a MISS that goes upstream and is indexed in turn", async () => {
    const germany = topic();
    await ask("semantic", chat("What is the capital of Germany?", germany.base));
    const calls = chatCalls();
    const other = await ask("semantic", chat("What is the population of Germany?", germany.near(0.9)));
    expect(other).toMatchObject({ status: 200, cache: "MISS", similarity: null });
    expect(chatCalls()).toBe(calls + 1);
    // The second prompt was indexed too: its own paraphrase now hits it.
    const again = await ask("semantic", chat("How many people live in Germany?", germany.near(0.89)));
    expect(again).toMatchObject({ cache: "HIT", body: other.body });
  });

  test("the whole system prompt and role tags are what is embedded", async () => {
    const greeting = topic();
    const text = "system: Answer in French.\nuser: Say hello";
    embedder.vectors.set(text, greeting.base);
    const body = { model: "gpt-4o-mini", messages: [{ role: "system", content: "Answer in French." }, { role: "user", content: [{ type: "text", text: "Say hello" }] }] };
    expect(await ask("semantic", body)).toMatchObject({ cache: "MISS" });
    expect(embedder.received.at(-1)?.body.input).toBe(text);
  });

  test("partitions are never shared: another credential, another model or other parameters is a MISS", async () => {
    const spain = topic();
    await ask("semantic", chat("What is the capital of Spain?", spain.base));
    const paraphrase = chat("Which city is the capital of Spain?", spain.near(0.99));
    const calls = chatCalls();
    expect(await ask("semantic", paraphrase, { authorization: "Bearer sk-bob" })).toMatchObject({ status: 200, cache: "MISS" });
    expect(await ask("semantic", { ...paraphrase, model: "gpt-4o" })).toMatchObject({ status: 200, cache: "MISS" });
    expect(await ask("semantic", { ...paraphrase, temperature: 0 })).toMatchObject({ status: 200, cache: "MISS" });
    expect(chatCalls()).toBe(calls + 3);
    expect(await ask("semantic", paraphrase)).toMatchObject({ cache: "HIT", similarity: "0.99" });
  });

  test("cf-aig-skip-cache turns it off: no embedding, no lookup, the provider answers", async () => {
    const italy = topic();
    await ask("semantic", chat("What is the capital of Italy?", italy.base));
    const embedded = embedder.received.length;
    const calls = chatCalls();
    const skipped = await ask("semantic", chat("Name the capital of Italy", italy.near(0.98)), { "cf-aig-skip-cache": "true" });
    expect(skipped).toMatchObject({ status: 200, cache: "MISS", similarity: null });
    expect(chatCalls()).toBe(calls + 1);
    expect(embedder.received.length).toBe(embedded);
  });

  test("an embedding route that fails is a MISS, the request succeeds and /health names semantic-cache", async () => {
    const calls = chatCalls();
    const answer = await ask("broken", chat("What is the capital of Portugal?", topic().base));
    expect(answer).toMatchObject({ status: 200, cache: "MISS", similarity: null });
    expect(JSON.parse(answer.body).choices[0].message.role).toBe("assistant");
    expect(chatCalls()).toBe(calls + 1);
    expect(embedder.received.at(-1)?.path).toBe("/broken/embeddings");
    const health = (await (await fetch(`${t.gw.url}/health`)).json()) as { faults: { component: string }[] };
    expect(health.faults).toContainEqual(expect.objectContaining({ component: "semantic-cache" }));
    // The exact cache still works on that gateway.
    expect(await ask("broken", chat("What is the capital of Portugal?", topic().base))).toMatchObject({ cache: "HIT", similarity: null });
  });

  test("requests that are not chat-like are never embedded", async () => {
    const embedded = embedder.received.length;
    const withTools = chat("Use a tool", topic().base, { tools: [] });
    withTools.messages.push({ role: "assistant", content: "", tool_calls: [] } as never);
    expect(await ask("semantic", withTools)).toMatchObject({ status: 200, cache: "MISS" });
    const image = { model: "gpt-4o-mini", messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:," } }] }] };
    expect(await ask("semantic", image)).toMatchObject({ cache: "MISS" });
    expect(embedder.received.length).toBe(embedded);
  });

  test("what an embedding round trip adds to a miss (mock upstream, loopback)", async () => {
    const rounds = 200;
    // Random directions: two of them are nowhere near the threshold, so every request is a miss.
    const random = () => Array.from({ length: DIMENSIONS }, () => Math.random() - 0.5);
    let n = 0;
    const time = async (gateway: string) => {
      const started = performance.now();
      for (let i = 0; i < rounds; i++) {
        const body = chat(`cost probe ${++n}`, random());
        const response = await fetch(`${t.gw.base(gateway)}/openai/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer sk-cost" }, body: JSON.stringify(body) });
        expect(response.headers.get("cf-aig-cache-status")).toBe("MISS");
        await response.text();
      }
      return (performance.now() - started) / rounds;
    };
    await time("exact");
    await time("semantic");
    const exactMs = await time("exact");
    const semanticMs = await time("semantic");
    console.log(`semantic-cache miss: ${semanticMs.toFixed(3)} ms/request vs exact-only ${exactMs.toFixed(3)} ms (+${Math.round((semanticMs - exactMs) * 1000)} µs per miss)`);
    expect(semanticMs).toBeGreaterThan(0);
  });
});

describe("prompt vectors in SQLite", () => {
  const v = (...values: number[]) => new Float32Array(values);

  test("survive a restart, expire with their entry and stay within the per-partition bound, oldest out first", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-vectors-"));
    try {
      const file = join(dir, "cache.db");
      const first = new SqliteVectorIndex(openDatabase(file), { maxPerPartition: 2 });
      await first.add("p", "a", v(1, 0), 1_000);
      await first.add("p", "b", v(0, 1), 10_000);
      await first.add("p", "c", v(1, 1), 10_000);
      await first.add("q", "a", v(2, 0), 10_000);
      expect(await first.nearest("p", v(1, 0), 0)).toEqual({ key: "c", similarity: expect.closeTo(Math.SQRT1_2, 5) });
      first.close();

      const second = new SqliteVectorIndex(openDatabase(file), { now: () => 500 });
      expect(second.size).toBe(3);
      expect(await second.nearest("q", v(3, 0), 500)).toEqual({ key: "a", similarity: expect.closeTo(1, 5) });
      expect(await second.nearest("p", v(0, 2), 500)).toEqual({ key: "b", similarity: expect.closeTo(1, 5) });
      expect(await second.nearest("nowhere", v(1, 0), 500)).toBeNull();
      expect(await second.purgeExpired(20_000)).toBe(3);
      second.close();

      const third = new SqliteVectorIndex(openDatabase(file), { now: () => 0 });
      expect(third.size).toBe(0);
      third.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a vector of another dimension or a zero vector never matches", async () => {
    const index = new SqliteVectorIndex(openDatabase(":memory:"));
    await index.add("p", "three", v(1, 0, 0), Date.now() + 60_000);
    await index.add("p", "zero", v(0, 0), Date.now() + 60_000);
    expect(await index.nearest("p", v(1, 0))).toBeNull();
    expect(await index.nearest("p", v(0, 0, 0))).toBeNull();
    index.close();
  });
});
