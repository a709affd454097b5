import { describe, expect, test } from "bun:test";
import { emptyUsage } from "../../src/pipeline/record.ts";
import { cohereUsage } from "../../src/providers/usage/cohere.ts";
import { googleUsage } from "../../src/providers/usage/google.ts";
import { replicateUsage } from "../../src/providers/usage/replicate.ts";
import { workersAiUsage } from "../../src/providers/usage/workers-ai.ts";
import { readJson, readStream } from "./sse.ts";

describe("Workers AI usage", () => {
  test("JSON: result.usage", () => {
    const body = {
      result: {
        response: "Hello! How can I help you today?",
        tool_calls: [],
        usage: { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 },
      },
      success: true,
      errors: [],
      messages: [],
    };
    expect(readJson(workersAiUsage, body)).toEqual({ tokensIn: 20, tokensOut: 10, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  test("stream: usage on the last event", () => {
    const sse = [
      'data: {"response":"Hello","p":"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123"}',
      'data: {"response":"!","p":"abcdefghij"}',
      'data: {"response":"","usage":{"prompt_tokens":42,"completion_tokens":2,"total_tokens":44}}',
      "data: [DONE]",
      "",
    ].join("\n\n");
    expect(readStream(workersAiUsage, sse)).toEqual({ tokensIn: 42, tokensOut: 2, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  test("OpenAI-compatible v1/chat/completions answer", () => {
    const body = {
      id: "id-1747000000000",
      object: "chat.completion",
      created: 1747000000,
      model: "@cf/meta/llama-3.1-8b-instruct",
      choices: [{ index: 0, message: { role: "assistant", content: "Hi" }, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 },
    };
    expect(readJson(workersAiUsage, body)).toEqual({
      tokensIn: 14,
      tokensOut: 3,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      model: "@cf/meta/llama-3.1-8b-instruct",
    });
  });

  test("an answer without usage (embeddings) and an error envelope leave usage untouched", () => {
    expect(readJson(workersAiUsage, { result: { shape: [1, 768], data: [[0.1]], pooling: "mean" }, success: true })).toEqual(emptyUsage());
    expect(readJson(workersAiUsage, { success: false, errors: [{ code: 7003, message: "Could not route" }], result: null })).toEqual(emptyUsage());
  });
});

describe("Google AI Studio usage", () => {
  test("generateContent JSON: prompt (cached content included), candidates plus thinking tokens", () => {
    const body = {
      candidates: [{ content: { parts: [{ text: "The capital is Paris." }], role: "model" }, finishReason: "STOP", index: 0 }],
      usageMetadata: {
        promptTokenCount: 4120,
        candidatesTokenCount: 6,
        totalTokenCount: 4151,
        cachedContentTokenCount: 4096,
        promptTokensDetails: [{ modality: "TEXT", tokenCount: 4120 }],
        cacheTokensDetails: [{ modality: "TEXT", tokenCount: 4096 }],
        thoughtsTokenCount: 25,
      },
      modelVersion: "gemini-2.5-flash",
      responseId: "c2JdaPfwNtO2nvgP7rWw4Qs",
    };
    expect(readJson(googleUsage, body)).toEqual({
      tokensIn: 4120,
      tokensOut: 31,
      cacheReadTokens: 4096,
      cacheWriteTokens: 0,
      model: "gemini-2.5-flash",
    });
  });

  test("streamGenerateContent?alt=sse: the last chunk's usageMetadata wins", () => {
    const sse = [
      'data: {"candidates":[{"content":{"parts":[{"text":"Once"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":1,"totalTokenCount":10,"promptTokensDetails":[{"modality":"TEXT","tokenCount":9}]},"modelVersion":"gemini-2.0-flash","responseId":"r1"}',
      'data: {"candidates":[{"content":{"parts":[{"text":" upon a time"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":4,"totalTokenCount":13},"modelVersion":"gemini-2.0-flash","responseId":"r1"}',
      'data: {"candidates":[{"content":{"parts":[{"text":"."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":5,"totalTokenCount":14,"promptTokensDetails":[{"modality":"TEXT","tokenCount":9}],"candidatesTokensDetails":[{"modality":"TEXT","tokenCount":5}]},"modelVersion":"gemini-2.0-flash","responseId":"r1"}',
      "",
    ].join("\r\n\r\n");
    expect(readStream(googleUsage, sse)).toEqual({
      tokensIn: 9,
      tokensOut: 5,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      model: "gemini-2.0-flash",
    });
  });

  test("streamGenerateContent without alt=sse answers a JSON array of chunks", () => {
    const body = [
      { candidates: [], usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 1, totalTokenCount: 10 }, modelVersion: "gemini-2.5-pro" },
      { candidates: [], usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 7, totalTokenCount: 16 }, modelVersion: "gemini-2.5-pro" },
    ];
    expect(readJson(googleUsage, body)).toEqual({ tokensIn: 9, tokensOut: 7, cacheReadTokens: 0, cacheWriteTokens: 0, model: "gemini-2.5-pro" });
  });

  test("error answers leave usage untouched", () => {
    const error = { error: { code: 400, message: "API key not valid.", status: "INVALID_ARGUMENT" } };
    expect(readJson(googleUsage, error)).toEqual(emptyUsage());
  });
});

describe("Cohere usage", () => {
  test("v2 chat JSON: billed units", () => {
    const body = {
      id: "c14c80c3-18eb-4519-9460-6c92edd8cfb4",
      finish_reason: "COMPLETE",
      message: { role: "assistant", content: [{ type: "text", text: "LLMs are…" }] },
      usage: { billed_units: { input_tokens: 17, output_tokens: 12 }, tokens: { input_tokens: 215, output_tokens: 12 } },
    };
    expect(readJson(cohereUsage, body)).toEqual({ tokensIn: 17, tokensOut: 12, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  test("v2 stream: message-end carries the usage", () => {
    const sse = `event: message-start
data: {"id":"29f14a5a-11de-4cae-9800-25e4747408ea","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}

event: content-delta
data: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hello"}}}}

event: message-end
data: {"type":"message-end","delta":{"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":3,"output_tokens":9},"tokens":{"input_tokens":69,"output_tokens":9}}}}

`;
    expect(readStream(cohereUsage, sse)).toEqual({ tokensIn: 3, tokensOut: 9, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  test("v1 chat JSON: meta.billed_units", () => {
    const body = {
      response_id: "5e7d8a4b",
      text: "Hi!",
      generation_id: "d4e5",
      finish_reason: "COMPLETE",
      meta: { api_version: { version: "1" }, billed_units: { input_tokens: 5, output_tokens: 3 }, tokens: { input_tokens: 71, output_tokens: 3 } },
    };
    expect(readJson(cohereUsage, body)).toEqual({ tokensIn: 5, tokensOut: 3, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  test("v1 embed: input tokens only", () => {
    const body = { id: "e1", embeddings: [[0.1, 0.2]], texts: ["hello"], meta: { api_version: { version: "1" }, billed_units: { input_tokens: 1 } } };
    expect(readJson(cohereUsage, body)).toEqual({ tokensIn: 1, tokensOut: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  test("rerank (search units only) leaves the token counts unknown", () => {
    const body = { id: "r1", results: [{ index: 0, relevance_score: 0.9 }], meta: { billed_units: { search_units: 1 } } };
    expect(readJson(cohereUsage, body)).toEqual(emptyUsage());
  });
});

describe("Replicate usage", () => {
  test("prediction metrics and model", () => {
    const body = {
      id: "gm3qorzdhgbfurvjtvhg6dckhu",
      model: "meta/meta-llama-3-8b-instruct",
      version: "dp-4d2d1d6f8d0a4b2b9e1c",
      input: { prompt: "Hi" },
      output: ["Hello", "!"],
      status: "succeeded",
      metrics: { input_token_count: 11, output_token_count: 2, predict_time: 0.2, tokens_per_second: 40 },
    };
    expect(readJson(replicateUsage, body)).toEqual({
      tokensIn: 11,
      tokensOut: 2,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      model: "meta/meta-llama-3-8b-instruct",
    });
  });
});
