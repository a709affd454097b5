import { describe, expect, test } from "bun:test";
import { createRegistry, validateProviderOverrides } from "../../src/providers/registry.ts";
import type { ProviderDef } from "../../src/providers/types.ts";
import { joinUrl } from "../../src/providers/url.ts";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const registry = createRegistry({});

function provider(slug: string, reg = registry): ProviderDef {
  const def = reg.get(slug);
  if (!def) throw new Error(`no provider ${slug}`);
  return def;
}
const url = (slug: string, endpoint: string, search = "", reg = registry) => reg.url(provider(slug, reg), ACCOUNT, endpoint, search);

describe("upstream URLs", () => {
  test("the /v1 segment is not doubled, whether or not the endpoint repeats it", () => {
    expect([
      url("openai", "chat/completions"),
      url("openai", "v1/chat/completions"),
      url("openai", "/v1/chat/completions"),
      url("groq", "v1/chat/completions"),
      url("cerebras", "chat/completions"),
    ]).toEqual([
      "https://api.openai.com/v1/chat/completions",
      "https://api.openai.com/v1/chat/completions",
      "https://api.openai.com/v1/chat/completions",
      "https://api.groq.com/openai/v1/chat/completions",
      "https://api.cerebras.ai/v1/chat/completions",
    ]);
  });

  test("bases without a version keep the endpoint's own", () => {
    expect([
      url("anthropic", "v1/messages"),
      url("mistral", "v1/chat/completions"),
      url("grok", "v1/chat/completions"),
      url("openrouter", "v1/chat/completions"),
      url("deepseek", "chat/completions"),
      url("perplexity-ai", "chat/completions"),
      url("cohere", "v2/chat"),
      url("replicate", "predictions"),
      url("huggingface", "bigcode/starcoder"),
    ]).toEqual([
      "https://api.anthropic.com/v1/messages",
      "https://api.mistral.ai/v1/chat/completions",
      "https://api.x.ai/v1/chat/completions",
      "https://openrouter.ai/api/v1/chat/completions",
      "https://api.deepseek.com/chat/completions",
      "https://api.perplexity.ai/chat/completions",
      "https://api.cohere.ai/v2/chat",
      "https://api.replicate.com/v1/predictions",
      "https://api-inference.huggingface.co/models/bigcode/starcoder",
    ]);
  });

  test("the query string is kept, and an empty endpoint is the base itself", () => {
    expect([
      url("google-ai-studio", "v1beta/models/gemini-2.5-flash:streamGenerateContent", "?alt=sse"),
      url("openai", "", ""),
      url("openai", "", "?x=1"),
    ]).toEqual([
      "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
      "https://api.openai.com/v1",
      "https://api.openai.com/v1?x=1",
    ]);
  });

  test("joinUrl dedupes any version segment and adds a missing '?'", () => {
    expect([
      joinUrl("https://h/x/v1beta/", "v1beta/models", ""),
      joinUrl("https://h/v4", "v4", ""),
      joinUrl("https://h/v1", "v1beta/models", ""),
      joinUrl("https://h/v1", "v10/x", ""),
      joinUrl("https://h", "a/b", "k=v"),
    ]).toEqual(["https://h/x/v1beta/models", "https://h/v4", "https://h/v1/v1beta/models", "https://h/v1/v10/x", "https://h/a/b?k=v"]);
  });

  test("workers-ai: models under /run (with or without run/ in the path), OpenAI-compatible v1/ beside it", () => {
    const base = `https://api.cloudflare.com/client/v4/accounts/${ACCOUNT}/ai`;
    expect([
      url("workers-ai", "@cf/meta/llama-3.1-8b-instruct"),
      url("workers-ai", "run/@cf/meta/llama-3.1-8b-instruct"),
      url("workers-ai", "v1/chat/completions"),
      url("workers-ai", "v1/embeddings"),
    ]).toEqual([
      `${base}/run/@cf/meta/llama-3.1-8b-instruct`,
      `${base}/run/@cf/meta/llama-3.1-8b-instruct`,
      `${base}/v1/chat/completions`,
      `${base}/v1/embeddings`,
    ]);
  });

  test("workers-ai: a configured base keeps {account} and the /run rules", () => {
    const reg = createRegistry({ "workers-ai": { baseUrl: "http://127.0.0.1:9000/accounts/{account}/ai/run/" } });
    expect([url("workers-ai", "@cf/meta/llama-3.1-8b-instruct", "", reg), url("workers-ai", "v1/chat/completions", "", reg)]).toEqual([
      `http://127.0.0.1:9000/accounts/${ACCOUNT}/ai/run/@cf/meta/llama-3.1-8b-instruct`,
      `http://127.0.0.1:9000/accounts/${ACCOUNT}/ai/v1/chat/completions`,
    ]);
  });

  test("azure-openai: resource and deployment come from the first two endpoint segments", () => {
    const reg = createRegistry({ "azure-openai": { baseUrl: "http://127.0.0.1:9000/{resource}/openai/deployments/{deployment}" } });
    expect([
      url("azure-openai", "my-resource/gpt-4o-prod/chat/completions", "?api-version=2024-10-21"),
      url("azure-openai", "my-resource/embed/embeddings", "?api-version=2023-05-15", reg),
    ]).toEqual([
      "https://my-resource.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
      "http://127.0.0.1:9000/my-resource/openai/deployments/embed/embeddings?api-version=2023-05-15",
    ]);
  });

  test("a configured base replaces the default as written", () => {
    const reg = createRegistry({ openai: { baseUrl: "http://127.0.0.1:8080/v1/" }, anthropic: { baseUrl: "http://127.0.0.1:8081" } });
    expect([url("openai", "v1/chat/completions", "", reg), url("anthropic", "v1/messages", "?beta=true", reg)]).toEqual([
      "http://127.0.0.1:8080/v1/chat/completions",
      "http://127.0.0.1:8081/v1/messages?beta=true",
    ]);
  });

  test("custom providers join {baseUrl}/{path} without doubling /v1", () => {
    const reg = createRegistry({ "custom-local": { baseUrl: "http://127.0.0.1:11434/v1" } });
    expect([url("custom-local", "chat/completions", "", reg), url("custom-local", "v1/models", "?limit=5", reg)]).toEqual([
      "http://127.0.0.1:11434/v1/chat/completions",
      "http://127.0.0.1:11434/v1/models?limit=5",
    ]);
  });
});

describe("registry contents", () => {
  test("lists every built-in and configured custom slug, sorted", () => {
    expect(createRegistry({ "custom-local": { baseUrl: "http://127.0.0.1:1/v1" } }).slugs()).toEqual([
      "anthropic",
      "azure-openai",
      "cerebras",
      "cohere",
      "custom-local",
      "deepseek",
      "google-ai-studio",
      "grok",
      "groq",
      "huggingface",
      "mistral",
      "openai",
      "openrouter",
      "perplexity-ai",
      "replicate",
      "workers-ai",
    ]);
    expect(registry.get("custom-local")).toBeUndefined();
    expect(registry.get("toString")).toBeUndefined();
  });

  test("validation rejects unknown slugs and custom providers without a base", () => {
    expect(
      validateProviderOverrides({
        openai: { baseUrl: "http://127.0.0.1:1/v1" },
        foo: {},
        "custom-x": {},
        "custom-": { baseUrl: "https://a.example" },
        "custom-ok": { baseUrl: "https://a.example/v1" },
        groq: { baseUrl: "ftp://nope" },
      }),
    ).toEqual([
      'providers.foo: unknown provider "foo"; use a built-in slug (anthropic, azure-openai, cerebras, cohere, deepseek, google-ai-studio, grok, groq, huggingface, mistral, openai, openrouter, perplexity-ai, replicate, workers-ai) or custom-<name>',
      "providers.custom-x: custom providers need a baseUrl",
      'providers.custom-: a custom provider is named custom-<name>, the name made of letters, digits and hyphens',
      'providers.groq.baseUrl: "ftp://nope" is not an http(s) URL',
    ]);
  });

  test("createRegistry refuses an invalid providers map", () => {
    expect(() => createRegistry({ foo: {} })).toThrow('providers.foo: unknown provider "foo"');
  });
});

describe("credentials", () => {
  const applied = (slug: string) => {
    const headers = new Headers();
    provider(slug).applyKey(headers, "k");
    return Object.fromEntries(headers);
  };

  test("each provider writes its usual key header", () => {
    expect({
      openai: applied("openai"),
      anthropic: applied("anthropic"),
      azure: applied("azure-openai"),
      google: applied("google-ai-studio"),
      cohere: applied("cohere"),
      workers: applied("workers-ai"),
      groq: applied("groq"),
    }).toEqual({
      openai: { authorization: "Bearer k" },
      anthropic: { "x-api-key": "k" },
      azure: { "api-key": "k" },
      google: { "x-goog-api-key": "k" },
      cohere: { authorization: "Bearer k" },
      workers: { authorization: "Bearer k" },
      groq: { authorization: "Bearer k" },
    });
  });

  test("auth headers list every header that carries the credential", () => {
    const reg = createRegistry({ "custom-x": { baseUrl: "https://x.example" } });
    expect(Object.fromEntries(["openai", "anthropic", "azure-openai", "google-ai-studio", "cohere", "workers-ai", "custom-x"].map((s) => [s, provider(s, reg).authHeaders]))).toEqual({
      openai: ["authorization"],
      anthropic: ["x-api-key", "authorization"],
      "azure-openai": ["api-key", "authorization"],
      "google-ai-studio": ["x-goog-api-key", "authorization"],
      cohere: ["authorization"],
      "workers-ai": ["authorization"],
      "custom-x": ["authorization", "x-api-key", "api-key"],
    });
  });
});

describe("requested model", () => {
  const model = (slug: string, endpoint: string, body: unknown = undefined) => provider(slug).model(endpoint, body);

  test("from the body, the path, or the deployment", () => {
    expect([
      model("openai", "chat/completions", { model: "gpt-4o-mini", messages: [] }),
      model("openai", "chat/completions", { model: 4 }),
      model("openai", "chat/completions", undefined),
      model("anthropic", "v1/messages", { model: "claude-sonnet-4-5", max_tokens: 10 }),
      model("workers-ai", "@cf/meta/llama-3.1-8b-instruct", { prompt: "hi" }),
      model("workers-ai", "run/@cf/meta/llama-3.1-8b-instruct", { prompt: "hi" }),
      model("workers-ai", "v1/chat/completions", { model: "@cf/openai/gpt-oss-120b" }),
      model("google-ai-studio", "v1beta/models/gemini-2.5-flash:generateContent", { contents: [] }),
      model("google-ai-studio", "v1/models/gemini-2.5-pro:streamGenerateContent", {}),
      model("google-ai-studio", "v1beta/openai/chat/completions", { model: "gemini-2.0-flash" }),
      model("azure-openai", "res/gpt-4o-prod/chat/completions", { messages: [] }),
      model("azure-openai", "res/gpt-4o-prod/chat/completions", { model: "gpt-4o" }),
      model("huggingface", "bigcode/starcoder", { inputs: "def" }),
      model("huggingface", "meta-llama/Llama-3.1-8B-Instruct/v1/chat/completions", { model: "tgi" }),
      model("replicate", "predictions", { version: "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa", input: {} }),
      model("replicate", "models/meta/meta-llama-3-8b-instruct/predictions", { input: {} }),
      model("cohere", "v2/chat", { model: "command-a-03-2025", messages: [] }),
    ]).toEqual([
      "gpt-4o-mini",
      null,
      null,
      "claude-sonnet-4-5",
      "@cf/meta/llama-3.1-8b-instruct",
      "@cf/meta/llama-3.1-8b-instruct",
      "@cf/openai/gpt-oss-120b",
      "gemini-2.5-flash",
      "gemini-2.5-pro",
      "gemini-2.0-flash",
      "gpt-4o-prod",
      "gpt-4o",
      "bigcode/starcoder",
      "meta-llama/Llama-3.1-8B-Instruct",
      "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa",
      "meta/meta-llama-3-8b-instruct",
      "command-a-03-2025",
    ]);
  });
});
