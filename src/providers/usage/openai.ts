import type { Usage } from "../../pipeline/record.ts";
import type { RealtimeUsage, UsageReader } from "../types.ts";
import { count, obj, text, type JsonObject } from "./fields.ts";

/**
 * Folds one OpenAI-style `usage` object into `usage`; false when it is not one.
 * Chat completions / embeddings: `prompt_tokens`, `completion_tokens` (0 when absent, as for embeddings),
 * `prompt_tokens_details.cached_tokens` (DeepSeek's `prompt_cache_hit_tokens` too).
 * Responses API: `input_tokens`, `output_tokens`, `input_tokens_details.cached_tokens`.
 * Values replace what was there: providers that repeat usage in a stream send running totals.
 */
export function readOpenAIUsage(value: unknown, usage: Usage): boolean {
  const u = obj(value);
  if (!u) return false;
  const prompt = count(u.prompt_tokens);
  if (prompt !== null) {
    usage.tokensIn = prompt;
    usage.tokensOut = count(u.completion_tokens) ?? 0;
    usage.cacheReadTokens = count(obj(u.prompt_tokens_details)?.cached_tokens) ?? count(u.prompt_cache_hit_tokens) ?? 0;
    return true;
  }
  const input = count(u.input_tokens);
  if (input !== null) {
    usage.tokensIn = input;
    usage.tokensOut = count(u.output_tokens) ?? 0;
    usage.cacheReadTokens = count(obj(u.input_tokens_details)?.cached_tokens) ?? 0;
    return true;
  }
  return false;
}

function readAnswer(answer: JsonObject, usage: Usage): boolean {
  const model = text(answer.model);
  if (model) usage.model = model;
  // Groq puts the streaming totals in `x_groq.usage` instead of `usage`.
  return readOpenAIUsage(answer.usage, usage) || readOpenAIUsage(obj(answer.x_groq)?.usage, usage);
}

/**
 * OpenAI wire format (and every OpenAI-compatible provider): chat completions, Responses API,
 * embeddings, legacy completions. Streams: the chunk carrying `usage` (`stream_options.include_usage`)
 * and Responses API events whose `response` carries `usage` (`response.completed`, `response.incomplete`).
 */
export const openaiUsage: UsageReader = {
  json(body, usage) {
    const answer = obj(body);
    if (answer) readAnswer(answer, usage);
  },
  event(data, usage) {
    const event = obj(data);
    if (!event) return;
    const response = obj(event.response);
    if (response) readAnswer(response, usage);
    else readAnswer(event, usage);
  },
};

/**
 * OpenAI Realtime sessions: every `response.done` event carries `response.usage` for that response
 * alone (`input_tokens`, `output_tokens`, `input_token_details.cached_tokens`), so the session's
 * usage is their sum.
 */
export const openaiRealtimeUsage: RealtimeUsage = {
  marker: '"response.done"',
  read(data, usage) {
    const event = obj(data);
    if (event?.type !== "response.done") return;
    const u = obj(obj(event.response)?.usage);
    const input = count(u?.input_tokens);
    if (!u || input === null) return;
    usage.tokensIn = (usage.tokensIn ?? 0) + input;
    usage.tokensOut = (usage.tokensOut ?? 0) + (count(u.output_tokens) ?? 0);
    usage.cacheReadTokens += count(obj(u.input_token_details)?.cached_tokens) ?? 0;
  },
};
