import { describe, expect, test } from "bun:test";
import { emptyUsage } from "../../src/pipeline/record.ts";
import { openaiUsage } from "../../src/providers/usage/openai.ts";
import { readJson, readStream } from "./sse.ts";

describe("OpenAI usage", () => {
  test("chat completion JSON: prompt, completion and cached tokens, and the answering model", () => {
    const body = {
      id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
      object: "chat.completion",
      created: 1741569952,
      model: "gpt-4o-2024-08-06",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Hello! How can I assist you today?", refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: {
        prompt_tokens: 2006,
        completion_tokens: 300,
        total_tokens: 2306,
        prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: "default",
      system_fingerprint: "fp_fc9f1d7035",
    };
    expect(readJson(openaiUsage, body)).toEqual({
      tokensIn: 2006,
      tokensOut: 300,
      cacheReadTokens: 1920,
      cacheWriteTokens: 0,
      model: "gpt-4o-2024-08-06",
    });
  });

  test("streamed chat: the final chunk's usage (stream_options.include_usage), [DONE] ignored", () => {
    const sse = [
      'data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}',
      'data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}',
      'data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}',
      'data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}',
      "data: [DONE]",
      "",
    ].join("\n\n");
    expect(readStream(openaiUsage, sse)).toEqual({
      tokensIn: 9,
      tokensOut: 12,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      model: "gpt-4o-mini-2024-07-18",
    });
  });

  test("streamed chat without include_usage leaves the counts unknown", () => {
    const sse =
      'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\ndata: [DONE]\n\n';
    expect(readStream(openaiUsage, sse)).toEqual({ ...emptyUsage(), model: "gpt-4o" });
  });

  test("Responses API JSON: input, output and cached input tokens", () => {
    const body = {
      id: "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
      object: "response",
      created_at: 1741476542,
      status: "completed",
      error: null,
      model: "gpt-4.1-2025-04-14",
      output: [
        {
          type: "message",
          id: "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
          status: "completed",
          role: "assistant",
          content: [{ type: "output_text", text: "In a peaceful grove…", annotations: [] }],
        },
      ],
      usage: {
        input_tokens: 1536,
        input_tokens_details: { cached_tokens: 1024 },
        output_tokens: 87,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 1623,
      },
    };
    expect(readJson(openaiUsage, body)).toEqual({
      tokensIn: 1536,
      tokensOut: 87,
      cacheReadTokens: 1024,
      cacheWriteTokens: 0,
      model: "gpt-4.1-2025-04-14",
    });
  });

  test("streamed Responses API: usage from response.completed", () => {
    const sse = `event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1741290958,"status":"in_progress","model":"gpt-4.1-2025-04-14","output":[],"usage":null}}

event: response.in_progress
data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_1","object":"response","created_at":1741290958,"status":"in_progress","model":"gpt-4.1-2025-04-14","output":[],"usage":null}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}

event: response.completed
data: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","created_at":1741290958,"status":"completed","model":"gpt-4.1-2025-04-14","output":[{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi there!","annotations":[]}]}],"usage":{"input_tokens":37,"input_tokens_details":{"cached_tokens":0},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":48}}}

`;
    expect(readStream(openaiUsage, sse)).toEqual({
      tokensIn: 37,
      tokensOut: 11,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      model: "gpt-4.1-2025-04-14",
    });
  });

  test("embeddings: prompt tokens in, zero out", () => {
    const body = {
      object: "list",
      data: [{ object: "embedding", index: 0, embedding: [0.0023064255, -0.009327292, -0.0028842222] }],
      model: "text-embedding-3-small",
      usage: { prompt_tokens: 8, total_tokens: 8 },
    };
    expect(readJson(openaiUsage, body)).toEqual({
      tokensIn: 8,
      tokensOut: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      model: "text-embedding-3-small",
    });
  });

  test("Groq streams its totals in x_groq.usage", () => {
    const sse =
      'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"queue_time":0.01,"prompt_tokens":40,"prompt_time":0.002,"completion_tokens":7,"completion_time":0.006,"total_tokens":47,"total_time":0.008}}}\n\ndata: [DONE]\n\n';
    expect(readStream(openaiUsage, sse)).toEqual({
      tokensIn: 40,
      tokensOut: 7,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      model: "llama-3.1-8b-instant",
    });
  });

  test("DeepSeek's prompt_cache_hit_tokens count as cache reads", () => {
    const body = {
      id: "x",
      object: "chat.completion",
      model: "deepseek-chat",
      choices: [],
      usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, prompt_cache_hit_tokens: 64, prompt_cache_miss_tokens: 56 },
    };
    expect(readJson(openaiUsage, body)).toEqual({
      tokensIn: 120,
      tokensOut: 30,
      cacheReadTokens: 64,
      cacheWriteTokens: 0,
      model: "deepseek-chat",
    });
  });

  test("unknown shapes leave usage untouched and never throw", () => {
    for (const body of [null, "text", 42, [], { usage: "none" }, { usage: { prompt_tokens: "9" } }, { error: { message: "bad" } }]) {
      expect(readJson(openaiUsage, body)).toEqual(emptyUsage());
      const usage = emptyUsage();
      openaiUsage.event(body, usage, null);
      expect(usage).toEqual(emptyUsage());
    }
  });
});
