import type { Usage } from "../../pipeline/record.ts";
import type { UsageReader } from "../types.ts";
import { count, obj, text } from "./fields.ts";
import { openaiUsage } from "./openai.ts";

/**
 * Folds a Cohere usage container (v2 `usage`, v1 `meta`) into `usage`; false when it has no token counts.
 * `billed_units` wins over `tokens`: `tokens` includes the prompt template Cohere adds and does not bill,
 * and these counts are what the request is priced on.
 */
export function readCohereUsage(value: unknown, usage: Usage): boolean {
  const container = obj(value);
  for (const units of [obj(container?.billed_units), obj(container?.tokens)]) {
    const input = count(units?.input_tokens);
    const output = count(units?.output_tokens);
    if (input === null && output === null) continue;
    usage.tokensIn = input ?? 0;
    usage.tokensOut = output ?? 0;
    return true;
  }
  return false;
}

function readAnswer(body: unknown, usage: Usage): void {
  const answer = obj(body);
  if (!answer) return;
  const model = text(answer.model);
  if (model) usage.model = model;
  if (!readCohereUsage(answer.usage, usage) && !readCohereUsage(answer.meta, usage)) openaiUsage.json(body, usage);
}

/**
 * Cohere. v2 chat/embed JSON: `usage` (or `meta`) with `billed_units` / `tokens`; v2 stream: the
 * `message-end` event's `delta.usage`. v1 JSON: `meta.billed_units`; v1 stream: `stream-end`'s
 * `response.meta`. Answers of Cohere's OpenAI-compatible endpoint fall through to the OpenAI reader.
 */
export const cohereUsage: UsageReader = {
  json: readAnswer,
  event(data, usage, eventName) {
    const event = obj(data);
    if (!event) return;
    const type = text(event.type) ?? text(event.event_type) ?? eventName;
    if (type === "message-end") readCohereUsage(obj(event.delta)?.usage, usage);
    else if (type === "stream-end") readAnswer(event.response, usage);
    else if (event.object === "chat.completion.chunk") openaiUsage.event(data, usage, eventName);
  },
};
