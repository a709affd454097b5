import { openAICompatible } from "./openai-compatible.ts";
import type { ProviderDef } from "./types.ts";

/** OpenAI: `/openai/chat/completions`, `/openai/responses`, `/openai/embeddings`, … → `https://api.openai.com/v1/…`. */
export const openai: ProviderDef = openAICompatible("openai", "https://api.openai.com/v1");
