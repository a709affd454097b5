import { obj, text } from "../../providers/usage/fields.ts";
import { ChunkWriter, openaiError, type AnswerInfo, type FinishReason } from "../openai-shape.ts";
import type { EventTranslator } from "../sse-stream.ts";
import { anthropicErrorBody, anthropicUsage, finishReason } from "./response.ts";

/**
 * A Messages API event stream → OpenAI chunks. `message_start` gives the id, model and input usage
 * (and the first chunk, with the role); text deltas become `content` deltas; a `tool_use` block
 * becomes a tool call (id and name first, then its `input_json_delta` pieces as `arguments`);
 * `message_delta` carries the stop reason and the cumulative output tokens; the finish chunk (and
 * the usage chunk, with `include_usage`) go out when the stream ends.
 */
export function anthropicStream(info: AnswerInfo): EventTranslator {
  const out = new ChunkWriter(info);
  let usage: Record<string, unknown> = {};
  let finish: FinishReason = "stop";
  /** Content block index → tool call index, for blocks that are tool calls. */
  const tools = new Map<number, number>();
  let started = false;
  let stopped = false;
  const incomplete = () => (!stopped ? "ended before its final event (message_stop)" : !started ? "ended without its message_start event" : null);

  return {
    event(name, data) {
      const event = obj(JSON.parse(data));
      if (!event) return [];
      switch (text(event.type) ?? name) {
        case "message_start": {
          const message = obj(event.message) ?? {};
          out.id = text(message.id) ?? out.id;
          out.model = text(message.model) ?? out.model;
          usage = { ...usage, ...obj(message.usage) };
          started = true;
          return [out.delta(0, { role: "assistant", content: "" })];
        }
        case "content_block_start": {
          const block = obj(event.content_block);
          if (block?.type !== "tool_use" || typeof event.index !== "number") return [];
          const index = tools.size;
          tools.set(event.index, index);
          return [out.delta(0, { tool_calls: [{ index, id: String(block.id ?? ""), type: "function", function: { name: String(block.name ?? ""), arguments: "" } }] })];
        }
        case "content_block_delta": {
          const delta = obj(event.delta);
          if (delta?.type === "text_delta" && typeof delta.text === "string") return [out.delta(0, { content: delta.text })];
          const index = typeof event.index === "number" ? tools.get(event.index) : undefined;
          if (delta?.type === "input_json_delta" && index !== undefined && typeof delta.partial_json === "string") {
            return [out.delta(0, { tool_calls: [{ index, function: { arguments: delta.partial_json } }] })];
          }
          return [];
        }
        case "message_delta":
          finish = finishReason(obj(event.delta)?.stop_reason);
          usage = { ...usage, ...obj(event.usage) };
          return [];
        case "message_stop":
          stopped = true;
          return [];
        default:
          return [];
      }
    },
    end() {
      // Ended without message_stop: the provider cut its answer short, and the client must not take it as whole.
      const why = incomplete();
      if (why) return [openaiError(`anthropic's stream ${why}`, "api_error")];
      const last = [out.delta(0, {}, finish)];
      if (info.includeUsage) last.push(out.usage(anthropicUsage(usage)));
      return last;
    },
    incomplete,
    error: (data) => anthropicErrorBody(0, data),
  };
}
