import type { ProviderConfig } from "../config/schema.ts";
import { anthropic } from "./anthropic.ts";
import { azureOpenAI } from "./azure-openai.ts";
import { cohere } from "./cohere.ts";
import { CUSTOM_SLUG, customProvider } from "./custom.ts";
import { googleAiStudio } from "./google-ai-studio.ts";
import { huggingface } from "./huggingface.ts";
import { openai } from "./openai.ts";
import { openAICompatibleProviders } from "./openai-compatible.ts";
import { replicate } from "./replicate.ts";
import type { ProviderDef } from "./types.ts";
import { fillAccount, fillPlaceholders, joinUrl } from "./url.ts";
import { confine, guardEndpoint } from "./url-guard.ts";
import { workersAi } from "./workers-ai.ts";

/** Every built-in provider. Adding a provider is its module plus one line here. */
export const BUILT_IN_PROVIDERS: readonly ProviderDef[] = [
  openai,
  anthropic,
  workersAi,
  azureOpenAI,
  googleAiStudio,
  cohere,
  huggingface,
  replicate,
  ...openAICompatibleProviders,
];

const builtInSlugs = BUILT_IN_PROVIDERS.map((p) => p.slug).sort();

export interface ProviderRegistry {
  get(slug: string): ProviderDef | undefined;
  /** Every known slug (built-in and configured custom-*), sorted. */
  slugs(): string[];
  /**
   * The upstream URL for one step, built from the provider's base and returned as `new URL()`
   * normalises it (the exact URL `fetch` sends, so what was checked is what is sent). Throws a
   * `GatewayError` 400 (BadRequest) — before anything is sent — when the endpoint or a placeholder
   * value breaks its rules, or the URL would leave the origin and path prefix the provider may reach
   * (`ProviderDef.reach`): a held key goes only where the operator pointed it.
   */
  url(provider: ProviderDef, accountId: string, endpoint: string, search: string): string;
}

/**
 * Checks the config's `providers` map. Returns one human message per problem (empty when valid):
 * keys must be a built-in slug or `custom-<name>`, custom providers need a `baseUrl`, and every
 * `baseUrl` must be an http(s) URL.
 *
 * @example validateProviderOverrides({ foo: {} }) // ['providers.foo: unknown provider "foo"; use a built-in slug (anthropic, …) or custom-<name>']
 */
export function validateProviderOverrides(overrides: Record<string, ProviderConfig>): string[] {
  const errors: string[] = [];
  for (const [slug, config] of Object.entries(overrides)) {
    const at = `providers.${slug}`;
    if (slug.startsWith("custom-")) {
      if (!CUSTOM_SLUG.test(slug)) errors.push(`${at}: a custom provider is named custom-<name>, the name made of letters, digits and hyphens`);
      else if (!config.baseUrl) errors.push(`${at}: custom providers need a baseUrl`);
    } else if (!builtInSlugs.includes(slug)) {
      errors.push(`${at}: unknown provider "${slug}"; use a built-in slug (${builtInSlugs.join(", ")}) or custom-<name>`);
    }
    if (config.baseUrl !== undefined && !isHttpUrl(config.baseUrl)) {
      errors.push(`${at}.baseUrl: "${config.baseUrl}" is not an http(s) URL`);
    }
  }
  return errors;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value.replaceAll(/\{[a-z]+\}/g, "x"));
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * Builds the provider map from the config's `providers`: every built-in (a configured `baseUrl`
 * replaces its default, used as written) plus every `custom-<name>` entry.
 * Throws an Error listing every problem `validateProviderOverrides` finds.
 */
export function createRegistry(overrides: Record<string, ProviderConfig>): ProviderRegistry {
  const errors = validateProviderOverrides(overrides);
  if (errors.length > 0) throw new Error(`invalid providers config:\n${errors.join("\n")}`);

  const providers = new Map<string, ProviderDef>();
  for (const def of BUILT_IN_PROVIDERS) {
    const baseUrl = overrides[def.slug]?.baseUrl;
    providers.set(def.slug, baseUrl ? { ...def, baseUrl: baseUrl.replace(/\/+$/, "") } : def);
  }
  for (const [slug, config] of Object.entries(overrides)) {
    if (slug.startsWith("custom-") && config.baseUrl) providers.set(slug, customProvider(slug, config.baseUrl));
  }
  const slugs = [...providers.keys()].sort();

  return {
    get: (slug) => providers.get(slug),
    slugs: () => [...slugs],
    url(provider, accountId, endpoint, search) {
      guardEndpoint(provider.slug, endpoint, search);
      const { params, endpoint: rest } = provider.baseParams?.(endpoint) ?? { params: {}, endpoint };
      const base = fillPlaceholders(fillAccount(provider.baseUrl, accountId), params);
      const url = provider.url ? provider.url(base, rest, search) : joinUrl(base, rest, search);
      return confine(provider.slug, url, provider.reach?.(base) ?? base);
    },
  };
}
