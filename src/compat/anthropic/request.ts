import type { JsonObject } from "../../providers/usage/fields.ts";
import { asksFor, OUTPUT_ONLY_OPENAI, type ChatIntent, type ToolChoice } from "../chat.ts";
import { cannotExpress } from "../errors.ts";
import type { Part, Turn } from "../messages.ts";
import type { NativeRequest } from "../translator.ts";

/**
 * `max_tokens` of an Anthropic request whose client set neither `max_completion_tokens` nor
 * `max_tokens`: the Messages API requires one, and 4096 fits every current Claude model.
 */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;
/** `anthropic-version` sent unless the client sends its own. */
export const ANTHROPIC_VERSION = "2023-06-01";

/** Image types the Messages API takes. */
const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

type Block = JsonObject;
interface Message {
  role: "user" | "assistant";
  content: Block[];
}

const refuse = (what: string, why: string) => cannotExpress("anthropic", what, why);

/**
 * The Messages API request (`POST v1/messages`) for an OpenAI chat request: system and developer
 * messages become `system`; tool calls `tool_use` blocks and tool messages `tool_result` blocks (in
 * a user turn); consecutive turns of one role are merged, as the API wants them alternating.
 * What Claude cannot express is refused with 400/2142 before anything is sent.
 */
export function anthropicRequest(chat: ChatIntent, model: string): NativeRequest {
  checkExpressible(chat);
  const body: JsonObject = {
    model,
    max_tokens: chat.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    messages: renderTurns(chat.turns),
  };
  if (chat.system.length > 0) body.system = chat.system.join("\n\n");
  if (chat.temperature !== null) body.temperature = chat.temperature;
  if (chat.topP !== null) body.top_p = chat.topP;
  if (chat.stop.length > 0) body.stop_sequences = chat.stop;
  if (chat.stream) body.stream = true;
  if (chat.user !== null) body.metadata = { user_id: chat.user };
  if (chat.tools.length > 0) {
    body.tools = chat.tools.map((tool) => ({
      name: tool.name,
      ...(tool.description === null ? {} : { description: tool.description }),
      input_schema: tool.parameters ?? { type: "object", properties: {} },
    }));
  }
  const choice = toolChoice(chat.toolChoice, chat.parallelToolCalls);
  if (choice && chat.tools.length > 0) body.tool_choice = choice;
  return { endpoint: "v1/messages", search: "", body, headers: { "anthropic-version": ANTHROPIC_VERSION } };
}

function checkExpressible(chat: ChatIntent): void {
  if (chat.n > 1) throw refuse(`n = ${chat.n}`, "the Messages API returns one message per request; send n requests");
  if (chat.responseFormat.type !== "text") {
    throw refuse(`response_format ${chat.responseFormat.type}`, "the Messages API has no JSON mode; ask for JSON in the prompt, or define a tool and force it with tool_choice");
  }
  if (chat.temperature !== null && chat.temperature > 1) throw refuse(`temperature ${chat.temperature}`, "Claude's temperature ranges from 0 to 1");
  if (chat.presencePenalty || chat.frequencyPenalty) throw refuse("presence_penalty / frequency_penalty", "the Messages API has no repetition penalties");
  if (chat.otherTools.length > 0) throw refuse(`tools of type ${chat.otherTools.join(", ")}`, "only function tools translate to Claude tools");
  for (const field of OUTPUT_ONLY_OPENAI) {
    if (asksFor(chat.raw, field)) throw refuse(`"${field}"`, "the Messages API has no equivalent");
  }
  const modalities = chat.raw.modalities;
  if (Array.isArray(modalities) && modalities.some((m) => m !== "text")) throw refuse("modalities other than text", "Claude answers in text only");
}

function renderTurns(turns: Turn[]): Message[] {
  const messages: Message[] = [];
  turns.forEach((turn, index) => {
    const at = `messages (turn ${index})`;
    const message: Message =
      turn.role === "tool"
        ? { role: "user", content: [{ type: "tool_result", tool_use_id: turn.callId, content: turn.text }] }
        : turn.role === "user"
          ? { role: "user", content: turn.parts.map((part) => renderPart(part, at)) }
          : {
              role: "assistant",
              content: [
                // Claude refuses empty text blocks; an assistant turn of only tool calls has none.
                ...turn.parts.filter((part) => part.type !== "text" || part.text !== "").map((part) => renderPart(part, at)),
                ...turn.toolCalls.map((call) => ({ type: "tool_use", id: call.id, name: call.name, input: call.args })),
              ],
            };
    if (message.content.length === 0) return;
    const last = messages.at(-1);
    if (last?.role === message.role) last.content.push(...message.content);
    else messages.push(message);
  });
  return messages;
}

function renderPart(part: Part, at: string): Block {
  switch (part.type) {
    case "text":
      return { type: "text", text: part.text };
    case "image": {
      if (part.url !== null) return { type: "image", source: { type: "url", url: part.url } };
      const { mediaType, base64 } = part.inline!;
      if (!IMAGE_TYPES.has(mediaType)) throw refuse(`an image of type ${mediaType} in ${at}`, "Claude takes JPEG, PNG, GIF and WebP images");
      return { type: "image", source: { type: "base64", media_type: mediaType, data: base64 } };
    }
    case "audio":
      throw refuse(`input_audio in ${at}`, "Claude does not take audio input");
    case "file": {
      if (part.inline?.mediaType === "application/pdf") return { type: "document", source: { type: "base64", media_type: "application/pdf", data: part.inline.base64 } };
      if (part.inline === null) throw refuse(`a file_id in ${at}`, "an OpenAI file id means nothing to Anthropic; send the file as file_data (a base64 data: URL)");
      throw refuse(`a file of type ${part.inline.mediaType} in ${at}`, "Claude takes PDF documents as files");
    }
  }
}

function toolChoice(choice: ToolChoice | null, parallel: boolean | null): JsonObject | null {
  const single = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === null) return parallel === false ? { type: "auto", ...single } : null;
  switch (choice.mode) {
    case "none":
      return { type: "none" };
    case "auto":
      return { type: "auto", ...single };
    case "required":
      return { type: "any", ...single };
    case "function":
      return { type: "tool", name: choice.name, ...single };
  }
}
