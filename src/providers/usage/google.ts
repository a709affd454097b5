import type { Usage } from "../../pipeline/record.ts";
import type { UsageReader } from "../types.ts";
import { count, obj, text } from "./fields.ts";
import { openaiUsage } from "./openai.ts";

/**
 * Folds one Gemini answer (or stream chunk) into `usage`; false when it has no `usageMetadata`.
 * `tokensIn` = `promptTokenCount` (which already includes `cachedContentTokenCount`) plus
 * `toolUsePromptTokenCount`; `tokensOut` = `candidatesTokenCount` plus `thoughtsTokenCount`, because
 * thinking tokens are billed as output.
 */
export function readGeminiAnswer(value: unknown, usage: Usage): boolean {
  const answer = obj(value);
  if (!answer) return false;
  const model = text(answer.modelVersion);
  if (model) usage.model = model;
  const meta = obj(answer.usageMetadata);
  const prompt = count(meta?.promptTokenCount);
  const candidates = count(meta?.candidatesTokenCount);
  if (!meta || (prompt === null && candidates === null)) return false;
  usage.tokensIn = (prompt ?? 0) + (count(meta.toolUsePromptTokenCount) ?? 0);
  usage.tokensOut = (candidates ?? 0) + (count(meta.thoughtsTokenCount) ?? 0);
  usage.cacheReadTokens = count(meta.cachedContentTokenCount) ?? 0;
  return true;
}

/**
 * Google AI Studio (Gemini). JSON: `usageMetadata`; a non-SSE `streamGenerateContent` answer is a JSON
 * array of chunks. Stream: every chunk carries running `usageMetadata`, the last one wins.
 * Answers of Gemini's OpenAI-compatible endpoint fall through to the OpenAI reader.
 */
export const googleUsage: UsageReader = {
  json(body, usage) {
    if (Array.isArray(body)) {
      for (const chunk of body) readGeminiAnswer(chunk, usage);
      return;
    }
    if (!readGeminiAnswer(body, usage)) openaiUsage.json(body, usage);
  },
  event(data, usage, eventName) {
    if (!readGeminiAnswer(data, usage)) openaiUsage.event(data, usage, eventName);
  },
};
