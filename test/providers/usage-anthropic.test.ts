import { describe, expect, test } from "bun:test";
import { emptyUsage } from "../../src/pipeline/record.ts";
import { anthropicUsage } from "../../src/providers/usage/anthropic.ts";
import { readJson, readStream } from "./sse.ts";

describe("Anthropic usage", () => {
  test("messages JSON: tokensIn counts uncached, cache-read and cache-write prompt tokens", () => {
    const body = {
      id: "msg_01XFDUDYJgAACzvnptvVoYEL",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5-20250929",
      content: [{ type: "text", text: "Hello!" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: 21,
        cache_creation_input_tokens: 188,
        cache_read_input_tokens: 1500,
        cache_creation: { ephemeral_5m_input_tokens: 188, ephemeral_1h_input_tokens: 0 },
        output_tokens: 393,
        service_tier: "standard",
      },
    };
    expect(readJson(anthropicUsage, body)).toEqual({
      tokensIn: 1709,
      tokensOut: 393,
      cacheReadTokens: 1500,
      cacheWriteTokens: 188,
      model: "claude-sonnet-4-5-20250929",
    });
  });

  test("messages JSON from an older API version without cache fields", () => {
    const body = {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "claude-3-haiku-20240307",
      content: [{ type: "text", text: "Hi" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 6 },
    };
    expect(readJson(anthropicUsage, body)).toEqual({
      tokensIn: 12,
      tokensOut: 6,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      model: "claude-3-haiku-20240307",
    });
  });

  const stream = (delta: string) => `event: message_start
data: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":${delta}}

event: message_stop
data: {"type":"message_stop"}

`;

  test("stream: message_start's input and cache tokens, message_delta's cumulative output (not added up)", () => {
    expect(readStream(anthropicUsage, stream('{"output_tokens":15}'))).toEqual({
      tokensIn: 2073,
      tokensOut: 15,
      cacheReadTokens: 2048,
      cacheWriteTokens: 0,
      model: "claude-sonnet-4-5-20250929",
    });
  });

  test("stream: a message_delta that repeats input and cache totals replaces them", () => {
    const delta = '{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,"output_tokens":15,"server_tool_use":null}';
    expect(readStream(anthropicUsage, stream(delta))).toEqual({
      tokensIn: 2073,
      tokensOut: 15,
      cacheReadTokens: 2048,
      cacheWriteTokens: 0,
      model: "claude-sonnet-4-5-20250929",
    });
  });

  test("stream: cache writes on the first call of a cached prompt", () => {
    const sse = `event: message_start
data: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","content":[],"model":"claude-haiku-4-5-20251001","usage":{"input_tokens":3,"cache_creation_input_tokens":4096,"cache_read_input_tokens":0,"output_tokens":2}}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":100}}

event: message_stop
data: {"type":"message_stop"}

`;
    expect(readStream(anthropicUsage, sse)).toEqual({
      tokensIn: 4099,
      tokensOut: 100,
      cacheReadTokens: 0,
      cacheWriteTokens: 4096,
      model: "claude-haiku-4-5-20251001",
    });
  });

  test("an error event mid-stream keeps what was counted", () => {
    const sse = `event: message_start
data: {"type":"message_start","message":{"id":"msg_3","type":"message","role":"assistant","content":[],"model":"claude-opus-4-1-20250805","usage":{"input_tokens":10,"output_tokens":1}}}

event: error
data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}

`;
    expect(readStream(anthropicUsage, sse)).toEqual({
      tokensIn: 10,
      tokensOut: 1,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      model: "claude-opus-4-1-20250805",
    });
  });

  test("error answers and unknown shapes leave usage untouched", () => {
    const error = { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } };
    for (const body of [error, null, "x", [1], { usage: null }]) {
      expect(readJson(anthropicUsage, body)).toEqual(emptyUsage());
    }
  });
});
