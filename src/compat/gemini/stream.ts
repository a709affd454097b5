import { obj, text } from "../../providers/usage/fields.ts";
import { ChunkWriter, type AnswerInfo, type FinishReason } from "../openai-shape.ts";
import type { EventTranslator } from "../sse-stream.ts";
import { candidateParts, candidatesOf, finishReason, geminiErrorBody, geminiUsage } from "./response.ts";

/** What the stream knows of one candidate so far. */
interface CandidateState {
  toolCalls: number;
  finish: unknown;
}

/**
 * A `streamGenerateContent?alt=sse` stream → OpenAI chunks. Each Gemini chunk carries text deltas
 * and whole function calls per candidate (a function call becomes one tool-call delta with all its
 * arguments), the latest `usageMetadata` and, last, the finish reason; the finish chunks (and the
 * usage chunk, with `include_usage`) go out when the stream ends. A chunk holding `error` is passed
 * on as OpenAI's error body.
 */
export function geminiStream(info: AnswerInfo): EventTranslator {
  const out = new ChunkWriter(info);
  const candidates = new Map<number, CandidateState>();
  let usage: unknown = null;
  let blocked = false;
  let errored = false;

  return {
    event(_name, data) {
      const answer = obj(JSON.parse(data));
      if (!answer) return [];
      if (answer.error) {
        errored = true;
        return [geminiErrorBody(0, answer)];
      }
      out.id = out.id === info.fallbackId ? (text(answer.responseId) ?? out.id) : out.id;
      out.model = text(answer.modelVersion) ?? out.model;
      if (answer.usageMetadata) usage = answer.usageMetadata;
      if (obj(answer.promptFeedback)?.blockReason) blocked = true;
      const chunks: object[] = [];
      for (const { index, candidate } of candidatesOf(answer)) {
        let state = candidates.get(index);
        if (!state) {
          candidates.set(index, (state = { toolCalls: 0, finish: null }));
          chunks.push(out.delta(index, { role: "assistant", content: "" }));
        }
        const { text: delta, calls } = candidateParts(candidate);
        if (delta !== "") chunks.push(out.delta(index, { content: delta }));
        for (const call of calls) chunks.push(out.delta(index, { tool_calls: [{ index: state.toolCalls++, ...call }] }));
        if (candidate.finishReason) state.finish = candidate.finishReason;
      }
      return chunks;
    },
    end() {
      const last: object[] = [];
      if (candidates.size === 0) last.push(out.delta(0, { role: "assistant", content: "" }, blocked ? "content_filter" : "stop"));
      for (const [index, state] of candidates) {
        const finish: FinishReason = finishReason(state.finish, state.toolCalls > 0);
        last.push(out.delta(index, {}, finish));
      }
      if (info.includeUsage) last.push(out.usage(geminiUsage(usage)));
      return last;
    },
    // Gemini's stream has no final event (the last chunk's finishReason is not one: a blocked prompt has none), so only an error chunk makes a cleanly ended answer incomplete.
    incomplete: () => (errored ? "sent an error event" : null),
    error: (data) => geminiErrorBody(0, data),
  };
}
