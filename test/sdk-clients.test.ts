import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import Cloudflare from "cloudflare";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { MOCK_REPLY, expectedUsage } from "./support/mock-upstream.ts";
import { gatewayWithMock, type GatewayWithMock } from "./support/with-mock.ts";

const ADMIN_TOKEN = "admin-token-for-sdk-tests";
const withAdmin = { server: { adminToken: ADMIN_TOKEN } };

/** The official clients with only their base URL pointed at the gateway. */
function clients(t: GatewayWithMock, keys: { openai?: string; anthropic?: string } = {}) {
  return {
    openai: new OpenAI({ baseURL: `${t.gw.base()}/openai`, apiKey: keys.openai ?? "sk-client-openai", maxRetries: 0 }),
    anthropic: new Anthropic({ baseURL: `${t.gw.base()}/anthropic`, apiKey: keys.anthropic ?? "sk-ant-client", maxRetries: 0 }),
    cloudflare: new Cloudflare({ apiToken: ADMIN_TOKEN, baseURL: `${t.gw.url}/client/v4`, maxRetries: 0 }),
  };
}

const where = { account_id: "local", gateway_id: "default" };
/** USD for `tokens` at `price` USD per million. */
const usd = (tokensIn: number, priceIn: number, tokensOut = 0, priceOut = 0) => (tokensIn * priceIn + tokensOut * priceOut) / 1e6;

describe("the openai client with only baseURL changed", () => {
  test("chat completion: answer, log record with usage and cost, bodies through the cloudflare client", async () => {
    await using t = await gatewayWithMock(withAdmin);
    const { openai, cloudflare } = clients(t);
    const body = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "what is a gateway" }], temperature: 0 };

    const { data: completion, response } = await openai.chat.completions.create(body).withResponse();

    expect(completion.choices[0].message.content).toBe(MOCK_REPLY);
    const id = response.headers.get("cf-aig-log-id")!;
    const usage = expectedUsage(body);
    const log = await t.log(id);
    expect(log).toMatchObject({
      id,
      provider: "openai",
      model: "gpt-4o-mini",
      path: "chat/completions",
      method: "POST",
      status_code: 200,
      success: true,
      tokens_in: usage.promptTokens,
      tokens_out: usage.completionTokens,
      request_type: "provider",
      user_agent: expect.stringContaining("OpenAI/JS"),
    });
    expect(log!.cost).toBeCloseTo(usd(usage.promptTokens, 0.15, usage.completionTokens, 0.6), 12);
    expect(await cloudflare.aiGateway.logs.request(id, where)).toEqual(body);
    expect(await cloudflare.aiGateway.logs.response(id, where)).toEqual(JSON.parse(JSON.stringify(completion)));
    expect(await cloudflare.aiGateway.logs.get(id, where)).toMatchObject({ id, provider: "openai", model: "gpt-4o-mini", tokens_in: usage.promptTokens });
  });

  test("responses: usage and cost logged, bodies retrievable", async () => {
    await using t = await gatewayWithMock(withAdmin);
    const { openai, cloudflare } = clients(t);
    const body = { model: "gpt-4o-mini", instructions: "be brief", input: "name three colours" };

    const { data: response, response: raw } = await openai.responses.create(body).withResponse();

    expect(response.output_text).toBe(MOCK_REPLY);
    const id = raw.headers.get("cf-aig-log-id")!;
    const usage = expectedUsage(body);
    const log = await t.log(id);
    expect(log).toMatchObject({ provider: "openai", model: "gpt-4o-mini", path: "responses", tokens_in: usage.promptTokens, tokens_out: usage.completionTokens });
    expect(log!.cost).toBeCloseTo(usd(usage.promptTokens, 0.15, usage.completionTokens, 0.6), 12);
    expect(await cloudflare.aiGateway.logs.request(id, where)).toEqual(body);
    expect(await cloudflare.aiGateway.logs.response(id, where)).toMatchObject({ id: response.id, object: "response", status: "completed" });
  });

  test("embeddings: prompt tokens and cost logged, bodies retrievable", async () => {
    await using t = await gatewayWithMock(withAdmin);
    const { openai, cloudflare } = clients(t);
    const body = { model: "text-embedding-3-small", input: ["first text here", "second"] };

    const { data: embeddings, response } = await openai.embeddings.create(body).withResponse();

    expect(embeddings.data.map((e) => e.embedding.length)).toEqual([8, 8]);
    const id = response.headers.get("cf-aig-log-id")!;
    const usage = expectedUsage(body);
    const log = await t.log(id);
    expect(log).toMatchObject({ provider: "openai", model: "text-embedding-3-small", path: "embeddings", tokens_in: usage.promptTokens });
    expect(log!.cost).toBeCloseTo(usd(usage.promptTokens, 0.02), 14);
    expect(log!.cost).toBeGreaterThan(0);
    // The client asks for base64 vectors; the request is stored as it sent it.
    expect(await cloudflare.aiGateway.logs.request(id, where)).toEqual({ ...body, encoding_format: "base64" });
    expect(await cloudflare.aiGateway.logs.response(id, where)).toMatchObject({ object: "list", model: "text-embedding-3-small", usage: { prompt_tokens: usage.promptTokens } });
  });
});

describe("the @anthropic-ai/sdk client with only baseURL changed", () => {
  test("messages: usage with prompt-cache tokens, cost, bodies through the cloudflare client", async () => {
    await using t = await gatewayWithMock(withAdmin);
    const { anthropic, cloudflare } = clients(t);
    const body = { model: "claude-haiku-4-5", max_tokens: 100, system: "you are terse", messages: [{ role: "user" as const, content: "hello claude" }] };

    const { data: message, response } = await anthropic.messages
      .create(body, { headers: { "x-mock-cached-tokens": "20", "x-mock-cache-creation-tokens": "8" } })
      .withResponse();

    expect(message.content).toMatchObject([{ type: "text", text: MOCK_REPLY }]);
    const id = response.headers.get("cf-aig-log-id")!;
    const usage = expectedUsage(body);
    const log = await t.log(id);
    expect(log).toMatchObject({
      provider: "anthropic",
      model: "claude-haiku-4-5",
      path: "v1/messages",
      status_code: 200,
      success: true,
      tokens_in: usage.promptTokens + 20 + 8,
      tokens_out: usage.completionTokens,
      cached_tokens_in: 20,
      cache_write_tokens_in: 8,
    });
    // claude-haiku-4-5: $1 in, $5 out, cache reads at 0.1×, cache writes at 1.25× the input price.
    expect(log!.cost).toBeCloseTo((usage.promptTokens * 1 + 20 * 0.1 + 8 * 1.25 + usage.completionTokens * 5) / 1e6, 12);
    expect(await cloudflare.aiGateway.logs.request(id, where)).toEqual(body);
    expect(await cloudflare.aiGateway.logs.response(id, where)).toMatchObject({ id: message.id, type: "message", usage: { cache_read_input_tokens: 20 } });
    const sent = t.upstream.lastRequest()!.headers;
    // Depending on its version the client sends the key as x-api-key or as a bearer token (CONTRACT.md).
    expect(sent["x-api-key"] ?? sent.authorization?.replace(/^Bearer /, "")).toBe("sk-ant-client");
    expect(sent["anthropic-version"]).toBeString();
  });
});

describe("credentials are never stored", () => {
  test("no client key, gateway token or held key appears anywhere in the SQLite files", async () => {
    const secrets = {
      openai: "sk-proj-SECRET-openai-5f1a9c",
      anthropic: "sk-ant-SECRET-xapikey-77b2",
      anthropicBearer: "sk-ant-SECRET-bearer-99c4",
      held: "sk-SECRET-held-in-config-31d8",
      gatewayToken: "gwtok-SECRET-cf-aig-auth-4e0f",
      custom: "SECRET-custom-api-key-hdr-61aa",
    };
    await using t = await gatewayWithMock((upstream) => ({
      ...withAdmin,
      providers: { "custom-keyed": { baseUrl: `${upstream}/custom`, apiKey: secrets.held } },
    }));
    const { openai, anthropic, cloudflare } = clients(t, { openai: secrets.openai, anthropic: secrets.anthropic });
    const bearer = new Anthropic({ baseURL: `${t.gw.base()}/anthropic`, apiKey: null, authToken: secrets.anthropicBearer, maxRetries: 0 });
    const gatewayAuth = { headers: { "cf-aig-authorization": `Bearer ${secrets.gatewayToken}` } };

    const chat = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }, gatewayAuth).withResponse();
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true }).then((s) => Array.fromAsync(s));
    await anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
    await bearer.messages.create({ model: "claude-haiku-4-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
    const held = await fetch(`${t.gw.base()}/custom-keyed/echo`, { method: "POST", body: "{}" });
    const own = await fetch(`${t.gw.base()}/custom-keyed/echo`, { method: "POST", body: "{}", headers: { "api-key": secrets.custom } });

    const credential = (h: Record<string, string>) => h["x-api-key"] ?? h["api-key"] ?? h.authorization?.replace(/^Bearer /, "");
    expect(t.upstream.requests.map((r) => credential(r.headers))).toEqual([
      secrets.openai,
      secrets.openai,
      secrets.anthropic,
      secrets.anthropicBearer,
      secrets.held,
      secrets.custom,
    ]);
    expect([held.status, own.status]).toEqual([200, 200]);
    const logs = await t.logs();
    expect(logs).toHaveLength(6);
    // The heads are kept, with every credential's value replaced.
    const head = JSON.parse((await cloudflare.aiGateway.logs.get(chat.response.headers.get("cf-aig-log-id")!, where)).request_head!);
    expect(head).toMatchObject({ authorization: "[redacted]", "cf-aig-authorization": "[redacted]" });

    const files = readdirSync(t.gw.dir).filter((name) => name.startsWith("switchboard.db"));
    expect(files).toContain("switchboard.db");
    const stored = Buffer.concat(files.map((name) => readFileSync(join(t.gw.dir, name))));
    const found = Object.entries(secrets).filter(([, secret]) => stored.includes(secret));
    expect(found).toEqual([]);
    // The search itself works: request bodies are in those bytes.
    expect(stored.includes('"content":"hi"')).toBe(true);
  });
});
