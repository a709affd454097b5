import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { compatClient, compatGateway, postCompat } from "./harness.ts";

/** The mock's vector for a text: 8 values from its length. */
const vector = (text: string) => Array.from({ length: 8 }, (_, i) => (text.length + i) / 100);
const close = (values: number[]) => values.map((v) => Math.round(v * 1e4) / 1e4);

describe("GET …/compat/models", () => {
  test("lists what the config makes reachable: known models of providers with a held key or a configured base (with prices), others as <slug>/*, and every route as dynamic/<name>", async () => {
    await using t = await compatGateway((upstream) => ({
      providers: { deepseek: { apiKey: "sk-deepseek" }, "custom-mock": { baseUrl: `${upstream}/custom` } },
      routes: { chat: { targets: [{ model: "openai/gpt-4o-mini" }] } },
    }));

    const ids = [];
    for await (const model of compatClient(t).models.list()) ids.push(model.id);
    const body = (await (await fetch(`${t.gw.base()}/compat/v1/models`)).json()) as { data: { id: string }[] };

    expect(ids).toContain("openai/gpt-4o-mini");
    expect(ids).toContain("anthropic/claude-sonnet-4-5");
    expect(ids).toContain("google-ai-studio/gemini-2.5-flash");
    expect(ids).toContain("deepseek/deepseek-chat");
    expect(ids).toContain("custom-mock/*");
    expect(ids.at(-1)).toBe("dynamic/chat");
    expect(ids.some((id) => id.startsWith("openrouter/") || id.startsWith("cerebras/"))).toBe(false);
    expect<unknown>(body.data.find((m) => m.id === "openai/gpt-4o-mini")).toEqual({ id: "openai/gpt-4o-mini", object: "model", created: 0, owned_by: "openai", pricing: { input: 0.15, output: 0.6 } });
    expect(t.upstream.requests).toEqual([]);
  });

  test("on an authenticated gateway it needs the gateway token (cf-aig-authorization or the bearer)", async () => {
    await using t = await compatGateway(() => ({ plugins: ["auth", "logging"], gateways: { prod: { authentication: true, tokens: ["sb_models_token_000001"] } } }));

    await expectGatewayError(await fetch(`${t.gw.base("prod")}/compat/models`), 401, ErrorCode.Unauthorized);
    const ok = await fetch(`${t.gw.base("prod")}/compat/models`, { headers: { authorization: "Bearer sb_models_token_000001" } });
    expect(ok.status).toBe(200);
  });
});

describe("POST …/compat/embeddings", () => {
  test("OpenAI-speaking providers pass through (Workers AI to v1/embeddings); the openai client decodes the vectors", async () => {
    await using t = await compatGateway();
    const client = compatClient(t);

    const openai = await client.embeddings.create({ model: "openai/text-embedding-3-small", input: ["hello", "hi there"] });
    const workers = await client.embeddings.create({ model: "workers-ai/@cf/baai/bge-small-en-v1.5", input: "hello" });

    expect(openai.data.map((d) => close(d.embedding))).toEqual([close(vector("hello")), close(vector("hi there"))]);
    expect(workers.data.map((d) => close(d.embedding))).toEqual([close(vector("hello"))]);
    expect(t.upstream.requests.map((r) => [r.path, (r.json as { model: string }).model])).toEqual([
      ["/v1/embeddings", "text-embedding-3-small"],
      ["/client/v4/accounts/local/ai/v1/embeddings", "@cf/baai/bge-small-en-v1.5"],
    ]);
    const [log] = await t.logs();
    expect(log).toMatchObject({ request_type: "compat", provider: "openai", model: "text-embedding-3-small", path: "embeddings" });
  });

  test("Gemini goes through batchEmbedContents, one request per input; floats or base64 as the client asks", async () => {
    await using t = await compatGateway();

    const viaClient = await compatClient(t).embeddings.create({ model: "google-ai-studio/gemini-embedding-001", input: ["hello", "hi there"], dimensions: 8 });
    const asFloats = await (await postCompat(t, { model: "google-ai-studio/gemini-embedding-001", input: "hello", encoding_format: "float" }, {}, "embeddings")).json();

    expect(t.upstream.requests[0].path).toBe("/v1beta/models/gemini-embedding-001:batchEmbedContents");
    expect(t.upstream.requests[0].json).toEqual({
      requests: [
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "hello" }] }, outputDimensionality: 8 },
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "hi there" }] }, outputDimensionality: 8 },
      ],
    });
    expect(viaClient.data.map((d) => close(d.embedding))).toEqual([close(vector("hello")), close(vector("hi there"))]);
    expect(asFloats).toEqual({ object: "list", data: [{ object: "embedding", index: 0, embedding: vector("hello") }], model: "gemini-embedding-001", usage: { prompt_tokens: 0, total_tokens: 0 } });
  });

  test("Anthropic has no embeddings API: 400/2142; a malformed input 400/2019", async () => {
    await using t = await compatGateway();

    expect(await expectGatewayError(await postCompat(t, { model: "anthropic/claude-haiku-4-5", input: "x" }, {}, "embeddings"), 400, ErrorCode.NotTranslatable)).toContain("it has no embeddings API");
    await expectGatewayError(await postCompat(t, { model: "openai/text-embedding-3-small", input: [{}] }, {}, "embeddings"), 400, ErrorCode.CompatBadFormat);
    expect(t.upstream.requests).toEqual([]);
  });
});
