import { describe, expect, test } from "bun:test";
import { ErrorCode, GatewayError } from "../../src/pipeline/errors.ts";
import { BUILT_IN_PROVIDERS, createRegistry, validateProviderOverrides } from "../../src/providers/registry.ts";
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

/** The GatewayError `fn` throws, as status, code and message; or "no error". */
function thrown(fn: () => unknown): { status: number; code: number; message: string } | string {
  try {
    fn();
    return "no error";
  } catch (error) {
    return error instanceof GatewayError ? { status: error.status, code: error.code, message: error.message } : String(error);
  }
}
const badRequest = (message: string | RegExp = expect.any(String)) => ({ status: 400, code: ErrorCode.BadRequest, message: typeof message === "string" ? message : expect.stringMatching(message) });

describe("upstream URLs stay where the operator pointed them", () => {
  test("valid endpoints build exactly the URLs they always did", () => {
    const workers = createRegistry({ "workers-ai": { baseUrl: "http://127.0.0.1:9000/client/v4/accounts/{account}/ai/run" } });
    expect([
      url("workers-ai", "@cf/meta/llama-3.1-8b-instruct"),
      url("workers-ai", "v1/chat/completions"),
      url("workers-ai", "@cf/meta/llama-3.1-8b-instruct", "", workers),
      url("google-ai-studio", "models/gemini-2.5-flash:generateContent"),
      url("google-ai-studio", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "?alt=sse"),
      url("azure-openai", "my-res/gpt-4o.prod_1/chat/completions", "?api-version=2024-10-21"),
      url("azure-openai", "a1/d/embeddings", "?api-version=2023-05-15"),
      url("openai", "v1/chat/completions", "?api-version=2024-10-21"),
      url("openai", "v1"),
      url("huggingface", "meta-llama/Llama-3.1-8B-Instruct"),
      url("replicate", "models/meta/meta-llama-3-8b-instruct/predictions"),
      url("anthropic", "v1/messages", "?beta=true"),
      url("openai", "files/file-abc%20x/content"),
    ]).toEqual([
      `https://api.cloudflare.com/client/v4/accounts/${ACCOUNT}/ai/run/@cf/meta/llama-3.1-8b-instruct`,
      `https://api.cloudflare.com/client/v4/accounts/${ACCOUNT}/ai/v1/chat/completions`,
      `http://127.0.0.1:9000/client/v4/accounts/${ACCOUNT}/ai/run/@cf/meta/llama-3.1-8b-instruct`,
      "https://generativelanguage.googleapis.com/models/gemini-2.5-flash:generateContent",
      "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
      "https://my-res.openai.azure.com/openai/deployments/gpt-4o.prod_1/chat/completions?api-version=2024-10-21",
      "https://a1.openai.azure.com/openai/deployments/d/embeddings?api-version=2023-05-15",
      "https://api.openai.com/v1/chat/completions?api-version=2024-10-21",
      "https://api.openai.com/v1",
      "https://api-inference.huggingface.co/models/meta-llama/Llama-3.1-8B-Instruct",
      "https://api.replicate.com/v1/models/meta/meta-llama-3-8b-instruct/predictions",
      "https://api.anthropic.com/v1/messages?beta=true",
      "https://api.openai.com/v1/files/file-abc%20x/content",
    ]);
  });

  test("an endpoint with a fragment, backslash, encoded slash, dot segment or control character is refused for every provider", () => {
    const reg = createRegistry({ "custom-x": { baseUrl: "http://127.0.0.1:9000/v1" } });
    const endpoints = [
      "127.0.0.1:9#/d/chat/completions",
      "chat/completions#@127.0.0.1:9",
      "..\\127.0.0.1:9",
      "a%5c..%5c..%5cx",
      "%2F%2F127.0.0.1:9/x",
      "a%2f..%2f..%2fx",
      "../../../x",
      "my-res/d/../../../x",
      "%2e%2e/%2E%2E/x",
      "my-res/d/.%2e/x",
      "./x",
      "a/.\t./.\n./x",
      "a b",
    ];
    const slugs = [...BUILT_IN_PROVIDERS.map((p) => p.slug), "custom-x"];
    const results = slugs.flatMap((slug) => endpoints.map((endpoint) => ({ slug, endpoint, result: thrown(() => url(slug, endpoint, "", reg)) })));
    expect(results).toEqual(slugs.flatMap((slug) => endpoints.map((endpoint) => ({ slug, endpoint, result: badRequest(/^Refused path for [a-z-]+: /) }))));
    expect(thrown(() => url("openai", "chat/completions", "?a=1#@127.0.0.1:9"))).toEqual(badRequest('Refused path for openai: the URL may not contain "#" (a request-target has no fragment)'));
  });

  test("Azure resource and deployment names follow Azure's rules, and the message says which one is wrong", () => {
    const resource = 'use 2–64 letters, digits and hyphens, starting and ending with a letter or digit; the path is /azure-openai/{resource}/{deployment}/…';
    const deployment = 'use 1–64 letters, digits, "-", "_" and ".", not starting with "."; the path is /azure-openai/{resource}/{deployment}/…';
    expect(["127.0.0.1:9/d/x", "evil.com/d/x", "a/d/x", "-a/d/x", "a-/d/x", "a_b/d/x", `${"r".repeat(65)}/d/x`, "r/d/x", "my-res/.d/x", "my-res/d:1/x", "my-res/d@h/x", "my-res//x", `my-res/${"d".repeat(65)}/x`].map((e) => thrown(() => url("azure-openai", e)))).toEqual([
      badRequest(`Invalid Azure resource name "127.0.0.1:9": ${resource}`),
      badRequest(`Invalid Azure resource name "evil.com": ${resource}`),
      badRequest(`Invalid Azure resource name "a": ${resource}`),
      badRequest(`Invalid Azure resource name "-a": ${resource}`),
      badRequest(`Invalid Azure resource name "a-": ${resource}`),
      badRequest(`Invalid Azure resource name "a_b": ${resource}`),
      badRequest(`Invalid Azure resource name "${"r".repeat(60)}…": ${resource}`),
      badRequest(`Invalid Azure resource name "r": ${resource}`),
      badRequest(`Invalid Azure deployment name ".d": ${deployment}`),
      badRequest(`Invalid Azure deployment name "d:1": ${deployment}`),
      badRequest(`Invalid Azure deployment name "d@h": ${deployment}`),
      badRequest(`Invalid Azure deployment name "": ${deployment}`),
      badRequest(`Invalid Azure deployment name "${"d".repeat(60)}…": ${deployment}`),
    ]);
    expect([url("azure-openai", `${"r".repeat(64)}/${"d".repeat(64)}/x`), url("azure-openai", "R2/_d-1.x/x")]).toEqual([
      `https://${"r".repeat(64)}.openai.azure.com/openai/deployments/${"d".repeat(64)}/x`,
      "https://r2.openai.azure.com/openai/deployments/_d-1.x/x",
    ]);
  });

  test("an {account} in the base must be a Cloudflare account id; bases without one ignore it", () => {
    const at = (account: string, slug = "workers-ai") => thrown(() => registry.url(provider(slug), account, "@cf/meta/llama-3.1-8b-instruct", ""));
    const rule = 'in the path: use up to 64 letters, digits, "-" and "_" (a Cloudflare account id)';
    expect([at(".."), at("a/../b"), at("127.0.0.1:9"), at("x@h"), at("a#b"), at(""), at("a".repeat(65)), at("..", "openai")]).toEqual([
      badRequest(`Invalid account id ".." ${rule}`),
      badRequest(`Invalid account id "a/../b" ${rule}`),
      badRequest(`Invalid account id "127.0.0.1:9" ${rule}`),
      badRequest(`Invalid account id "x@h" ${rule}`),
      badRequest(`Invalid account id "a#b" ${rule}`),
      badRequest(`Invalid account id "" ${rule}`),
      badRequest(`Invalid account id "${"a".repeat(60)}…" ${rule}`),
      "no error",
    ]);
    expect(registry.url(provider("workers-ai"), "Acc_1-x", "@cf/m", "")).toBe("https://api.cloudflare.com/client/v4/accounts/Acc_1-x/ai/run/@cf/m");
  });

  test("second line: whatever a provider module builds, the registry refuses a URL outside its reach", () => {
    const openaiDef = provider("openai");
    const refusedBy = (def: ProviderDef, endpoint = "chat/completions") => thrown(() => registry.url(def, ACCOUNT, endpoint, ""));
    const outside = "Refused path for openai: the upstream URL would leave the base URL configured for this provider";
    expect([
      refusedBy({ ...openaiDef, url: () => "http://127.0.0.1:9/v1/chat/completions" }),
      refusedBy({ ...openaiDef, url: () => "https://api.openai.com.evil.example/v1/x" }),
      refusedBy({ ...openaiDef, url: () => "https://api.openai.com:8443/v1/x" }),
      refusedBy({ ...openaiDef, url: () => "http://api.openai.com/v1/x" }),
      refusedBy({ ...openaiDef, url: () => "https://user@api.openai.com/v1/x" }),
      refusedBy({ ...openaiDef, url: () => "https://api.openai.com/v1/../admin" }),
      refusedBy({ ...openaiDef, url: () => "https://api.openai.com/v1x/chat" }),
      refusedBy({ ...openaiDef, url: () => "https://api.openai.com/v1/x#frag" }),
      refusedBy({ ...openaiDef, url: () => "not a url" }),
      refusedBy({ ...openaiDef, baseUrl: "https://{resource}.example.com/v1", baseParams: (e) => ({ params: { resource: "127.0.0.1:9#" }, endpoint: e }) }),
      refusedBy({ ...openaiDef, baseUrl: "https://h.example/{deployment}/v1", baseParams: (e) => ({ params: { deployment: ".." }, endpoint: e }) }),
      refusedBy({ ...provider("workers-ai"), url: (base) => `${base}/../../other/ai/v1/x` }),
    ]).toEqual([
      badRequest(outside),
      badRequest(outside),
      badRequest(outside),
      badRequest(outside),
      badRequest(outside),
      badRequest(outside),
      badRequest(outside),
      badRequest('Refused path for openai: the URL may not contain "#" (a request-target has no fragment)'),
      badRequest("Refused path for openai: the path does not form a valid upstream URL"),
      badRequest('Invalid {resource} "127.0.0.1:9#" in the path: use up to 64 letters, digits, "-", "_", "~" and "."'),
      badRequest('Invalid {deployment} ".." in the path: use up to 64 letters, digits, "-", "_", "~" and "."'),
      badRequest("Refused path for workers-ai: the upstream URL would leave the base URL configured for this provider"),
    ]);
  });

  test("a provider's reach is its base by default; Workers AI's /run base also reaches its parent, and nothing above", () => {
    const workers = provider("workers-ai");
    const sibling = (path: string) => thrown(() => registry.url({ ...workers, url: (base) => `${base.slice(0, -"/run".length)}${path}` }, ACCOUNT, "x", ""));
    expect([sibling("/v1/embeddings"), sibling("/run2/x"), sibling("x")]).toEqual([
      "no error",
      "no error",
      badRequest("Refused path for workers-ai: the upstream URL would leave the base URL configured for this provider"),
    ]);
    const plain = createRegistry({ "workers-ai": { baseUrl: "http://127.0.0.1:9000/ai" } });
    expect(thrown(() => plain.url({ ...provider("workers-ai", plain), url: () => "http://127.0.0.1:9000/other" }, ACCOUNT, "x", ""))).toEqual(
      badRequest("Refused path for workers-ai: the upstream URL would leave the base URL configured for this provider"),
    );
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
