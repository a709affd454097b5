import type { ChatTranslator } from "../translator.ts";
import { geminiRequest } from "./request.ts";
import { geminiCompletion, geminiErrorBody } from "./response.ts";
import { geminiStream } from "./stream.ts";

export { geminiEmbeddings } from "./embeddings.ts";

/** OpenAI Chat Completions ↔ Gemini `generateContent` / `streamGenerateContent`, both ways. */
export const geminiChat: ChatTranslator = {
  passthrough: false,
  request: (chat, model) => geminiRequest(chat.intent(), model),
  completion: geminiCompletion,
  stream: geminiStream,
  error: geminiErrorBody,
};
