import type { ResolvedConfig, ResolvedGateway } from "../config/defaults.ts";
import { PRICE_TABLE } from "../providers/price-table.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import { compatSlugs } from "./model-ref.ts";

/** One entry of `GET …/compat/models`, in OpenAI's model shape (`pricing` is Switchboard's, USD per million tokens). */
export interface CompatModel {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  pricing?: { input: number; output: number };
}

/**
 * What this gateway's config makes reachable through the compat endpoint, as OpenAI's model list:
 * for every compat provider with a held key (the gateway's or the global one) or a configured
 * `baseUrl`, the models of the built-in price table with their prices — or `"<slug>/*"` for a
 * provider whose models the gateway does not know (custom-*) — then every route as `dynamic/<name>`.
 */
export function compatModels(config: ResolvedConfig, gateway: ResolvedGateway, providers: ProviderRegistry, routes: readonly string[]): { object: "list"; data: CompatModel[] } {
  const data: CompatModel[] = [];
  for (const slug of compatSlugs(providers)) {
    const reachable = gateway.raw.providers?.[slug]?.apiKey ?? config.providers[slug]?.apiKey ?? config.providers[slug]?.baseUrl;
    if (!reachable) continue;
    const known = Object.entries(PRICE_TABLE[slug] ?? {});
    if (known.length === 0) data.push({ id: `${slug}/*`, object: "model", created: 0, owned_by: slug });
    for (const [model, price] of known) data.push({ id: `${slug}/${model}`, object: "model", created: 0, owned_by: slug, pricing: { input: price.input, output: price.output } });
  }
  for (const name of routes) data.push({ id: `dynamic/${name}`, object: "model", created: 0, owned_by: "switchboard" });
  return { object: "list", data };
}
