import { describe, expect, test } from "bun:test";
import type { Usage } from "../../src/pipeline/record.ts";
import { resolveConfig } from "../../src/config/defaults.ts";
import { costOf, parseCustomCost, priceFor } from "../../src/providers/prices.ts";

const usage = (tokensIn: number | null, tokensOut: number | null, cacheReadTokens = 0, cacheWriteTokens = 0): Usage => ({
  tokensIn,
  tokensOut,
  cacheReadTokens,
  cacheWriteTokens,
});

describe("priceFor", () => {
  test("exact ids and dated snapshots resolve to the base model", () => {
    expect({
      exact: priceFor("openai", "gpt-4o"),
      snapshot: priceFor("openai", "gpt-4o-2024-08-06"),
      mini: priceFor("openai", "gpt-4o-mini-2024-07-18"),
      five: priceFor("openai", "gpt-5-mini-2025-08-07"),
      sonnet45: priceFor("anthropic", "claude-sonnet-4-5-20250929"),
      sonnet4: priceFor("anthropic", "claude-sonnet-4-20250514"),
      haiku35: priceFor("anthropic", "claude-3-5-haiku-latest"),
      gemini: priceFor("google-ai-studio", "gemini-2.0-flash-001"),
      workers: priceFor("workers-ai", "@cf/meta/llama-3.1-8b-instruct"),
    }).toEqual({
      exact: { input: 2.5, output: 10, cacheRead: 1.25 },
      snapshot: { input: 2.5, output: 10, cacheRead: 1.25 },
      mini: { input: 0.15, output: 0.6, cacheRead: 0.075 },
      five: { input: 0.25, output: 2, cacheRead: 0.025 },
      sonnet45: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
      sonnet4: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
      haiku35: { input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1 },
      gemini: { input: 0.1, output: 0.4, cacheRead: 0.025 },
      workers: { input: 0.282, output: 0.827 },
    });
  });

  test("other providers serving a known model, and provider/ prefixes", () => {
    expect({
      azure: priceFor("azure-openai", "gpt-4o-2024-11-20"),
      openrouter: priceFor("openrouter", "anthropic/claude-haiku-4-5"),
      compat: priceFor("workers-ai", "workers-ai/@cf/meta/llama-3.1-8b-instruct"),
      models: priceFor("google-ai-studio", "models/gemini-2.5-pro"),
      groqOss: priceFor("groq", "openai/gpt-oss-120b"),
      upper: priceFor("openai", "GPT-4.1-Nano"),
    }).toEqual({
      azure: { input: 2.5, output: 10, cacheRead: 1.25 },
      openrouter: { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
      compat: { input: 0.282, output: 0.827 },
      models: { input: 1.25, output: 10, cacheRead: 0.125 },
      groqOss: { input: 0.15, output: 0.75 },
      upper: { input: 0.1, output: 0.4, cacheRead: 0.025 },
    });
  });

  test("a prefix must end at a name boundary, and the longest one wins", () => {
    expect({
      o3pro: priceFor("openai", "o3-pro-2025-06-10"),
      o3: priceFor("openai", "o3-2025-04-16"),
      o30: priceFor("openai", "o30"),
      grokFast: priceFor("grok", "grok-4-fast-reasoning"),
      unknown: priceFor("openai", "my-finetune"),
      none: priceFor("openai", null),
    }).toEqual({
      o3pro: { input: 20, output: 80 },
      o3: { input: 2, output: 8, cacheRead: 0.5 },
      o30: null,
      grokFast: { input: 0.2, output: 0.5, cacheRead: 0.05 },
      unknown: null,
      none: null,
    });
  });

  test("user prices win, keyed provider/model or model", () => {
    const extra = {
      "azure-openai/gpt-4o": { input: 1, output: 2 },
      "my-finetune": { input: 3, output: 4 },
      "@cf/meta/llama-3.1-8b-instruct": { input: 0.5, output: 0.5 },
    };
    expect({
      provider: priceFor("azure-openai", "gpt-4o-2024-08-06", extra),
      otherProvider: priceFor("openai", "gpt-4o", extra),
      model: priceFor("custom-local", "my-finetune", extra),
      workers: priceFor("workers-ai", "@cf/meta/llama-3.1-8b-instruct", extra),
    }).toEqual({
      provider: { input: 1, output: 2 },
      otherProvider: { input: 2.5, output: 10, cacheRead: 1.25 },
      model: { input: 3, output: 4 },
      workers: { input: 0.5, output: 0.5 },
    });
  });
});

describe("costOf", () => {
  test("prices uncached, cache-read, cache-write and output tokens separately", () => {
    const price = priceFor("anthropic", "claude-sonnet-4-5-20250929")!;
    // 21 uncached × $3 + 1500 read × $0.30 + 188 written × $3.75 + 393 out × $15, per million
    expect(costOf(usage(1709, 393, 1500, 188), price)).toBeCloseTo((21 * 3 + 1500 * 0.3 + 188 * 3.75 + 393 * 15) / 1e6, 12);
  });

  test("cache rates default to the input rate", () => {
    expect(costOf(usage(1000, 0, 400, 100), { input: 2, output: 8 })).toBe(0.002);
  });

  test("cached OpenAI tokens cost less than cold ones", () => {
    const price = priceFor("openai", "gpt-4o")!;
    expect(costOf(usage(2006, 300, 1920), price)).toBeCloseTo((86 * 2.5 + 1920 * 1.25 + 300 * 10) / 1e6, 12);
    expect(costOf(usage(2006, 300, 1920), price)!).toBeLessThan(costOf(usage(2006, 300), price)!);
  });

  test("null without token counts, a number when only one side is known", () => {
    expect([costOf(usage(null, null), { input: 1, output: 1 }), costOf(usage(1_000_000, null), { input: 1, output: 9 })]).toEqual([null, 1]);
  });
});

describe("parseCustomCost", () => {
  test("USD per token becomes a per-million price; cache rates default to per_token_in", () => {
    expect(parseCustomCost('{"per_token_in":0.000001,"per_token_out":0.000002}')).toEqual({ input: 1, output: 2, cacheRead: 1, cacheWrite: 1 });
    expect(parseCustomCost('{"per_token_in":0.000003,"per_token_out":0.000015,"per_cache_read_token":0.0000003,"per_cache_write_token":0.00000375}')).toEqual({
      input: 3,
      output: 15,
      cacheRead: 0.3,
      cacheWrite: 3.75,
    });
  });

  test("prices a request with it", () => {
    const price = parseCustomCost('{"per_token_in":0.01,"per_token_out":0.02}');
    expect(costOf(usage(10, 5), price)).toBeCloseTo(0.2, 12);
  });

  test("rejects invalid JSON, missing and negative or non-number rates with a clear message", () => {
    const error = (value: string) => {
      try {
        parseCustomCost(value);
        return "accepted";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect([
      error("per_token_in=1"),
      error("[1,2]"),
      error('{"per_token_in":0.000001}'),
      error('{"per_token_in":-1,"per_token_out":1}'),
      error('{"per_token_in":"0.1","per_token_out":1}'),
      error('{"per_token_in":1,"per_token_out":1,"per_cache_read_token":null}'),
    ]).toEqual([
      'cf-aig-custom-cost must be JSON such as {"per_token_in":0.000001,"per_token_out":0.000002}',
      "cf-aig-custom-cost must be a JSON object with per_token_in and per_token_out",
      "cf-aig-custom-cost: per_token_out must be a non-negative number of USD per token, got nothing",
      "cf-aig-custom-cost: per_token_in must be a non-negative number of USD per token, got -1",
      'cf-aig-custom-cost: per_token_in must be a non-negative number of USD per token, got "0.1"',
      "cf-aig-custom-cost: per_cache_read_token must be a non-negative number of USD per token, got null",
    ]);
  });
});

describe("prices from the config", () => {
  test("the top-level prices reach every gateway and win over the built-in table", () => {
    const config = resolveConfig(
      { gateways: { prod: {} }, prices: { "openai/gpt-4o": { input: 1, output: 2, cacheRead: 0.5 }, "my-finetune": { input: 3, output: 4 } } },
      null,
    );
    const prices = config.gateways.get("prod")!.prices;
    expect(config.gateways.get("default")!.prices).toBe(prices);
    expect({
      override: priceFor("openai", "gpt-4o-2024-08-06", prices),
      elsewhere: priceFor("azure-openai", "gpt-4o", prices),
      own: priceFor("workers-ai", "my-finetune", prices),
      builtIn: priceFor("anthropic", "claude-haiku-4-5", prices),
    }).toEqual({
      override: { input: 1, output: 2, cacheRead: 0.5 },
      elsewhere: { input: 1, output: 2, cacheRead: 0.5 },
      own: { input: 3, output: 4 },
      builtIn: { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
    });
  });

  test("no prices in the config: the built-in table alone", () => {
    expect(resolveConfig({}, null).gateways.get("default")!.prices).toBeUndefined();
  });

  test("newer built-in models", () => {
    expect({
      groq: priceFor("groq", "meta-llama/llama-4-scout-17b-16e-instruct"),
      mistral: priceFor("mistral", "magistral-medium-2509"),
      gemini: priceFor("google-ai-studio", "gemini-1.5-flash-002"),
      xai: priceFor("grok", "grok-2-1212"),
    }).toEqual({
      groq: { input: 0.11, output: 0.34 },
      mistral: { input: 2, output: 5 },
      gemini: { input: 0.075, output: 0.3 },
      xai: { input: 2, output: 10 },
    });
  });
});
