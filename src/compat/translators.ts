import { anthropicChat } from "./anthropic/index.ts";
import { geminiChat, geminiEmbeddings } from "./gemini/index.ts";
import type { Family } from "./model-ref.ts";
import { openaiChat, openaiEmbeddings } from "./openai.ts";
import type { ChatTranslator, EmbeddingsTranslator } from "./translator.ts";

/** The chat translator of each family. */
export const CHAT_TRANSLATORS: Readonly<Record<Family, ChatTranslator>> = { openai: openaiChat, anthropic: anthropicChat, gemini: geminiChat };

/** The embeddings translator of each family; null where the provider has no embeddings API. */
export const EMBEDDINGS_TRANSLATORS: Readonly<Record<Family, EmbeddingsTranslator | null>> = { openai: openaiEmbeddings, anthropic: null, gemini: geminiEmbeddings };
