import type { UsageReader } from "../types.ts";
import { obj } from "./fields.ts";
import { openaiUsage } from "./openai.ts";

/**
 * Workers AI. JSON: `{ result: { response, usage: { prompt_tokens, completion_tokens } }, success }`.
 * Stream: `data: {"response":"…"}` events, the last one (or a later one) carrying `usage` in the same
 * OpenAI field names. Answers of the OpenAI-compatible `v1/…` endpoints are OpenAI-shaped.
 */
export const workersAiUsage: UsageReader = {
  json(body, usage) {
    openaiUsage.json(obj(obj(body)?.result) ?? body, usage);
  },
  event(data, usage, eventName) {
    openaiUsage.event(data, usage, eventName);
  },
};
