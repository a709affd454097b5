import type { ChatTranslator } from "../translator.ts";
import { anthropicRequest } from "./request.ts";
import { anthropicCompletion, anthropicErrorBody } from "./response.ts";
import { anthropicStream } from "./stream.ts";

export { ANTHROPIC_DEFAULT_MAX_TOKENS, ANTHROPIC_VERSION } from "./request.ts";

/** OpenAI Chat Completions ↔ Anthropic Messages, both ways, streaming included. */
export const anthropicChat: ChatTranslator = {
  passthrough: false,
  request: (chat, model) => anthropicRequest(chat.intent(), model),
  completion: anthropicCompletion,
  stream: anthropicStream,
  error: anthropicErrorBody,
};
