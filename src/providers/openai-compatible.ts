import { bodyModel, setBearer } from "./common.ts";
import type { ProviderDef } from "./types.ts";
import { openaiUsage } from "./usage/openai.ts";

/**
 * A provider that speaks the OpenAI wire format: `Authorization: Bearer`, model in `body.model`,
 * OpenAI-shaped usage. The base is joined with the endpoint by the registry (`/v1` not doubled).
 */
export function openAICompatible(slug: string, baseUrl: string): ProviderDef {
  return {
    slug,
    baseUrl,
    authHeaders: ["authorization"],
    applyKey: setBearer,
    usage: openaiUsage,
    model: (_endpoint, body) => bodyModel(body),
  };
}

/** The OpenAI-compatible built-ins with their documented default bases. Add one here to add a provider. */
export const openAICompatibleProviders: readonly ProviderDef[] = [
  openAICompatible("groq", "https://api.groq.com/openai/v1"),
  openAICompatible("mistral", "https://api.mistral.ai"),
  openAICompatible("deepseek", "https://api.deepseek.com"),
  openAICompatible("grok", "https://api.x.ai"),
  openAICompatible("openrouter", "https://openrouter.ai/api"),
  openAICompatible("perplexity-ai", "https://api.perplexity.ai"),
  openAICompatible("cerebras", "https://api.cerebras.ai/v1"),
];
