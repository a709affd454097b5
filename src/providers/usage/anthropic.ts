import type { Usage } from "../../pipeline/record.ts";
import type { UsageReader } from "../types.ts";
import { count, obj, text } from "./fields.ts";
import { openaiUsage } from "./openai.ts";

/**
 * Folds one Anthropic `usage` object into `usage`; false when it carries no token field.
 * Fields present replace earlier values (a stream's `message_delta` repeats cumulative totals), fields
 * absent keep them. `tokensIn` is `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`,
 * so it means "all prompt tokens" as OpenAI's `prompt_tokens` does.
 */
export function readAnthropicUsage(value: unknown, usage: Usage): boolean {
  const u = obj(value);
  if (!u) return false;
  const input = count(u.input_tokens);
  const output = count(u.output_tokens);
  const read = count(u.cache_read_input_tokens);
  const write = count(u.cache_creation_input_tokens);
  if (input === null && output === null && read === null && write === null) return false;
  const uncached = input ?? (usage.tokensIn === null ? null : usage.tokensIn - usage.cacheReadTokens - usage.cacheWriteTokens);
  if (read !== null) usage.cacheReadTokens = read;
  if (write !== null) usage.cacheWriteTokens = write;
  if (uncached !== null) usage.tokensIn = uncached + usage.cacheReadTokens + usage.cacheWriteTokens;
  if (output !== null) usage.tokensOut = output;
  return true;
}

/**
 * Anthropic Messages API. JSON: `usage` of the message. Stream: `message_start` carries
 * `message.usage` (input and cache tokens, output so far), `message_delta` the cumulative `usage`.
 * Answers from Anthropic's OpenAI-compatible endpoint fall through to the OpenAI reader.
 */
export const anthropicUsage: UsageReader = {
  json: readMessage,
  event(data, usage, eventName) {
    const event = obj(data);
    if (!event) return;
    const type = text(event.type) ?? eventName;
    if (type === "message_start") readMessage(event.message, usage);
    else if (type === "message_delta") readAnthropicUsage(event.usage, usage);
    else if (event.object === "chat.completion.chunk") openaiUsage.event(data, usage, eventName);
  },
};

function readMessage(body: unknown, usage: Usage): void {
  const message = obj(body);
  if (!message) return;
  if (obj(message.usage)?.prompt_tokens !== undefined) return openaiUsage.json(body, usage);
  const model = text(message.model);
  if (model) usage.model = model;
  readAnthropicUsage(message.usage, usage);
}
