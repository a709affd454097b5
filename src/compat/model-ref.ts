import { ErrorCode, GatewayError } from "../pipeline/errors.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import type { ProviderDef } from "../providers/types.ts";
import { badFormat, quote } from "./errors.ts";

/** How a provider takes compat requests: OpenAI's wire format as is, or translated to Anthropic's or Gemini's. */
export type Family = "openai" | "anthropic" | "gemini";

/** The `model` prefix of a model route: `dynamic/<route>`. */
export const DYNAMIC_PREFIX = "dynamic/";

/** Cloudflare's compat spellings that differ from the provider-route slugs. */
export const SLUG_ALIASES: Readonly<Record<string, string>> = { perplexity: "perplexity-ai", google: "google-ai-studio", xai: "grok" };

const FAMILIES: Readonly<Record<string, Family>> = {
  openai: "openai",
  groq: "openai",
  mistral: "openai",
  deepseek: "openai",
  grok: "openai",
  openrouter: "openai",
  "perplexity-ai": "openai",
  cerebras: "openai",
  "workers-ai": "openai",
  anthropic: "anthropic",
  "google-ai-studio": "gemini",
};

/** A `{provider}/{model}` resolved against the registry. */
export interface ModelRef {
  provider: ProviderDef;
  /** The model as the provider names it (the prefix taken off). */
  model: string;
  family: Family;
}

/** How the compat endpoint serves `slug`, or null when it does not (azure-openai, cohere, huggingface, replicate). */
export function familyOf(slug: string): Family | null {
  // Own keys only: a client's "constructor" or "__proto__" must not find Object.prototype's members.
  if (Object.hasOwn(FAMILIES, slug)) return FAMILIES[slug];
  return slug.startsWith("custom-") ? "openai" : null;
}

/** Every provider slug the compat endpoint serves with this registry, sorted. */
export function compatSlugs(providers: ProviderRegistry): string[] {
  return providers.slugs().filter((slug) => familyOf(slug) !== null);
}

/**
 * Reads `"{provider}/{model}"`: the provider is everything before the first `/` (a path slug or a
 * Cloudflare compat spelling such as `google`), the model everything after
 * (`workers-ai/@cf/meta/llama-3.1-8b-instruct`, `groq/openai/gpt-oss-120b`). No prefix is 400/2019;
 * an unknown provider, or one the compat endpoint does not serve, 400/2101 listing those it does.
 *
 * @example parseModelRef("anthropic/claude-sonnet-4-5", providers) // { provider: anthropic, model: "claude-sonnet-4-5", family: "anthropic" }
 */
export function parseModelRef(value: string, providers: ProviderRegistry): ModelRef {
  const slash = value.indexOf("/");
  if (slash <= 0 || slash === value.length - 1) {
    throw badFormat(`"model" must be "{provider}/{model}", e.g. "openai/gpt-4o-mini" or "dynamic/<route>"; got ${quote(value)}`);
  }
  const written = value.slice(0, slash);
  const slug = Object.hasOwn(SLUG_ALIASES, written) ? SLUG_ALIASES[written] : written;
  const provider = providers.get(slug);
  const family = familyOf(slug);
  if (!provider || !family) {
    const why = provider ? "is not served by the compat endpoint" : "is not a known provider";
    throw new GatewayError(400, ErrorCode.UnknownProvider, `Provider ${quote(written)} in "model" ${why}; the compat endpoint serves: ${compatSlugs(providers).join(", ")}`);
  }
  return { provider, model: value.slice(slash + 1), family };
}
