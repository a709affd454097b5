import type { ProviderDef } from "../providers/types.ts";
import type { ChatTranslator, EmbeddingsTranslator, NativeRequest } from "./translator.ts";

/**
 * Where each OpenAI-compatible provider keeps Chat Completions and Embeddings, relative to its base.
 * `v1/…` where the default base stops short of the version (the registry never doubles a `/v1` the
 * base already ends in); everyone else, `custom-*` included, at `chat/completions` under the base.
 */
const VERSIONED = new Set(["mistral", "grok", "openrouter", "workers-ai"]);

/** The body as the client sent it, with the `{provider}/` prefix taken off `model`. */
function passthrough(raw: Record<string, unknown>, model: string, provider: ProviderDef, path: string): NativeRequest {
  return { endpoint: VERSIONED.has(provider.slug) ? `v1/${path}` : path, search: "", body: { ...raw, model } };
}

const untouched = (_status: number, body: unknown): object => body as object;

/**
 * OpenAI and the providers that speak its wire format (groq, mistral, deepseek, grok, openrouter,
 * perplexity-ai, cerebras, Workers AI's `v1/chat/completions`, custom-*): the request passes with
 * only `model` changed, and the answer — JSON, stream or error — goes back untouched.
 */
export const openaiChat: ChatTranslator = {
  passthrough: true,
  request: (chat, model, provider) => passthrough(chat.raw, model, provider, "chat/completions"),
  completion: (body) => body as object,
  stream: () => ({ event: () => [], end: () => [], incomplete: () => null, error: (data) => data as object }),
  error: untouched,
};

/** Embeddings for the same providers: `embeddings` (Workers AI: `v1/embeddings`), untouched both ways. */
export const openaiEmbeddings: EmbeddingsTranslator = {
  passthrough: true,
  request: (input, model, provider) => passthrough(input.raw, model, provider, "embeddings"),
  answer: (body) => body as object,
  error: untouched,
};
