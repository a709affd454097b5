import { count, obj, text, type JsonObject } from "../../providers/usage/fields.ts";
import { completion, openaiError, usageOf, type AnswerInfo, type FinishReason, type OpenAIChoice, type OpenAIToolCall, type OpenAIUsage } from "../openai-shape.ts";
import { toolCallId } from "./tool-ids.ts";

/** Gemini's `finishReason` → OpenAI's; a candidate that called functions finishes with `tool_calls`. */
export function finishReason(reason: unknown, calledTools: boolean): FinishReason {
  switch (reason) {
    case "MAX_TOKENS":
      return "length";
    case "SAFETY":
    case "RECITATION":
    case "BLOCKLIST":
    case "PROHIBITED_CONTENT":
    case "SPII":
    case "IMAGE_SAFETY":
      return "content_filter";
    default:
      return calledTools ? "tool_calls" : "stop";
  }
}

/** `usageMetadata` → OpenAI usage; thinking tokens count as completion tokens (they are billed as output). */
export function geminiUsage(value: unknown): OpenAIUsage {
  const meta = obj(value) ?? {};
  const prompt = (count(meta.promptTokenCount) ?? 0) + (count(meta.toolUsePromptTokenCount) ?? 0);
  const thoughts = count(meta.thoughtsTokenCount) ?? 0;
  return usageOf(prompt, (count(meta.candidatesTokenCount) ?? 0) + thoughts, count(meta.cachedContentTokenCount) ?? 0, thoughts);
}

/** The visible parts of one candidate: its text (thoughts left out) and its function calls. */
export function candidateParts(candidate: JsonObject): { text: string; calls: OpenAIToolCall[] } {
  const parts = Array.isArray(obj(candidate.content)?.parts) ? (obj(candidate.content)!.parts as unknown[]) : [];
  let joined = "";
  const calls: OpenAIToolCall[] = [];
  for (const value of parts) {
    const part = obj(value);
    if (!part || part.thought === true) continue;
    if (typeof part.text === "string") joined += part.text;
    const call = obj(part.functionCall);
    if (call) {
      calls.push({ id: toolCallId(text(part.thoughtSignature)), type: "function", function: { name: String(call.name ?? ""), arguments: JSON.stringify(call.args ?? {}) } });
    }
  }
  return { text: joined, calls };
}

/** Candidates of an answer, with their index. */
export function candidatesOf(answer: JsonObject): { index: number; candidate: JsonObject }[] {
  const list = Array.isArray(answer.candidates) ? answer.candidates : [];
  return list.flatMap((value, position) => {
    const candidate = obj(value);
    return candidate ? [{ index: count(candidate.index) ?? position, candidate }] : [];
  });
}

/** A `generateContent` answer → an OpenAI `chat.completion`, one choice per candidate. A prompt blocked outright is one empty choice finished by `content_filter`. */
export function geminiCompletion(body: unknown, info: AnswerInfo): object {
  const answer = obj(body) ?? {};
  const choices: OpenAIChoice[] = candidatesOf(answer).map(({ index, candidate }) => {
    const { text: content, calls } = candidateParts(candidate);
    return {
      index,
      message: { role: "assistant", content: content === "" && calls.length > 0 ? null : content, refusal: null, ...(calls.length > 0 ? { tool_calls: calls } : {}) },
      logprobs: null,
      finish_reason: finishReason(candidate.finishReason, calls.length > 0),
    };
  });
  if (choices.length === 0) {
    choices.push({ index: 0, message: { role: "assistant", content: null, refusal: null }, logprobs: null, finish_reason: obj(answer.promptFeedback)?.blockReason ? "content_filter" : "stop" });
  }
  return completion(text(answer.responseId) ?? info.fallbackId, text(answer.modelVersion) ?? "", info.created, choices, geminiUsage(answer.usageMetadata));
}

/** Google's `{error: {code, message, status}}` (or an array holding one) → OpenAI's error body, with Google's status as type and code. */
export function geminiErrorBody(status: number, body: unknown): object {
  const error = obj(obj(Array.isArray(body) ? body[0] : body)?.error);
  const message = text(error?.message) ?? (typeof body === "string" && body !== "" ? body : `google-ai-studio answered ${status}`);
  const kind = text(error?.status);
  return openaiError(message, kind?.toLowerCase() ?? "api_error", kind ?? null);
}
