import { count, obj, text, type JsonObject } from "../../providers/usage/fields.ts";
import { completion, openaiError, usageOf, type AnswerInfo, type FinishReason, type OpenAIToolCall, type OpenAIUsage } from "../openai-shape.ts";

/** Claude's `stop_reason` → OpenAI's `finish_reason`. */
export function finishReason(stopReason: unknown): FinishReason {
  switch (stopReason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      // end_turn, stop_sequence, pause_turn
      return "stop";
  }
}

/** Anthropic usage → OpenAI's: prompt tokens count cache reads and writes too, as OpenAI's do. */
export function anthropicUsage(value: unknown): OpenAIUsage {
  const u = obj(value) ?? {};
  const read = count(u.cache_read_input_tokens) ?? 0;
  const prompt = (count(u.input_tokens) ?? 0) + read + (count(u.cache_creation_input_tokens) ?? 0);
  return usageOf(prompt, count(u.output_tokens) ?? 0, read);
}

/** A Messages API answer → an OpenAI `chat.completion`: text blocks joined, `tool_use` blocks as `tool_calls`; thinking is left out. */
export function anthropicCompletion(body: unknown, info: AnswerInfo): object {
  const message = obj(body) ?? {};
  const blocks = Array.isArray(message.content) ? message.content.map(obj).filter((b): b is JsonObject => b !== undefined) : [];
  const texts = blocks.filter((b) => b.type === "text" && typeof b.text === "string").map((b) => b.text as string);
  const toolCalls: OpenAIToolCall[] = blocks
    .filter((b) => b.type === "tool_use")
    .map((b) => ({ id: String(b.id ?? ""), type: "function", function: { name: String(b.name ?? ""), arguments: JSON.stringify(b.input ?? {}) } }));
  const choice = {
    index: 0,
    message: { role: "assistant" as const, content: texts.length > 0 ? texts.join("") : null, refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
    logprobs: null,
    finish_reason: finishReason(message.stop_reason),
  };
  return completion(text(message.id) ?? info.fallbackId, text(message.model) ?? "", info.created, [choice], anthropicUsage(message.usage));
}

/** Anthropic's `{type: "error", error: {type, message}}` → OpenAI's error body, keeping Anthropic's error type. */
export function anthropicErrorBody(status: number, body: unknown): object {
  const error = obj(obj(body)?.error);
  const message = text(error?.message) ?? (typeof body === "string" && body !== "" ? body : `anthropic answered ${status}`);
  return openaiError(message, text(error?.type) ?? "api_error", text(error?.type) ?? null);
}
