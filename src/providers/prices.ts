import type { Usage } from "../pipeline/record.ts";
import { PRICE_TABLE } from "./price-table.ts";

/** A model's price in USD per million tokens. Cache rates default to `input` when absent. */
export interface Price {
  input: number;
  output: number;
  /** Prompt tokens read from the provider's prompt cache. */
  cacheRead?: number;
  /** Prompt tokens written to the provider's prompt cache. */
  cacheWrite?: number;
}

interface Entry {
  provider: string | null;
  model: string;
  price: Price;
}

const builtIn: Entry[] = Object.entries(PRICE_TABLE).flatMap(([provider, models]) =>
  Object.entries(models).map(([model, price]) => ({ provider, model, price })),
);

/** After a prefix, the next character must start a new name part, so `o3` does not price `o30`. */
const BOUNDARY = /^[-:@._]/;

/**
 * The price of `model` at `provider`, or null when unknown. Tries, for the model id and then for the id
 * with each leading `provider/` part stripped (`openai/gpt-4o`, `models/gemini-2.5-pro`):
 * exact at this provider, exact at any provider, then the longest prefix (this provider first), so dated
 * snapshots such as `gpt-4o-2024-08-06` and `claude-sonnet-4-5-20250929` resolve. Matching ignores case.
 *
 * `extra` holds user prices keyed `provider/model` or `model`; they win over the built-in table at
 * every step.
 *
 * @example priceFor("openai", "gpt-4o-2024-08-06") // { input: 2.5, output: 10, cacheRead: 1.25 }
 */
export function priceFor(provider: string, model: string | null | undefined, extra?: Record<string, Price>): Price | null {
  if (!model) return null;
  if (extra) return lookUp(provider, model, extra);
  // The built-in table never changes: one look-up per provider and model (bounded: model names come from clients).
  const key = `${provider}\u0000${model}`;
  const known = builtInHits.get(key);
  if (known !== undefined) return known;
  const price = lookUp(provider, model);
  if (builtInHits.size >= MAX_REMEMBERED) builtInHits.clear();
  builtInHits.set(key, price);
  return price;
}

const MAX_REMEMBERED = 10_000;
const builtInHits = new Map<string, Price | null>();

function lookUp(provider: string, model: string, extra?: Record<string, Price>): Price | null {
  const entries = extra ? [...userEntries(extra), ...builtIn] : builtIn;
  const names = candidates(model.toLowerCase());
  const at = (e: Entry) => e.provider === null || e.provider === provider;
  for (const name of names) {
    const hit = entries.find((e) => e.model === name && at(e)) ?? entries.find((e) => e.model === name);
    if (hit) return hit.price;
  }
  for (const name of names) {
    const hit = longestPrefix(entries.filter(at), name) ?? longestPrefix(entries, name);
    if (hit) return hit.price;
  }
  return null;
}

function userEntries(extra: Record<string, Price>): Entry[] {
  return Object.entries(extra).map(([key, price]) => {
    const slash = key.indexOf("/");
    // `@cf/meta/…` and other ids that start with a non-slug part are model ids, not provider/model keys.
    if (slash <= 0 || key.startsWith("@")) return { provider: null, model: key.toLowerCase(), price };
    return { provider: key.slice(0, slash), model: key.slice(slash + 1).toLowerCase(), price };
  });
}

function candidates(model: string): string[] {
  const names = [model];
  for (let rest = model; rest.includes("/"); ) {
    rest = rest.slice(rest.indexOf("/") + 1);
    if (rest) names.push(rest);
  }
  return names;
}

function longestPrefix(entries: Entry[], name: string): Entry | undefined {
  let best: Entry | undefined;
  for (const e of entries) {
    if (!name.startsWith(e.model) || !BOUNDARY.test(name.slice(e.model.length))) continue;
    if (!best || e.model.length > best.model.length) best = e;
  }
  return best;
}

/**
 * The cost of one request in USD: uncached prompt tokens (`tokensIn − cacheRead − cacheWrite`) at
 * `input`, cache reads at `cacheRead`, cache writes at `cacheWrite` (both default to `input`), output at
 * `output`. Null when the usage has no token counts at all.
 */
export function costOf(usage: Usage, price: Price): number | null {
  if (usage.tokensIn === null && usage.tokensOut === null) return null;
  const uncached = Math.max(0, (usage.tokensIn ?? 0) - usage.cacheReadTokens - usage.cacheWriteTokens);
  return (
    (uncached * price.input +
      usage.cacheReadTokens * (price.cacheRead ?? price.input) +
      usage.cacheWriteTokens * (price.cacheWrite ?? price.input) +
      (usage.tokensOut ?? 0) * price.output) /
    1e6
  );
}

const CUSTOM_COST_FIELDS = {
  per_token_in: "input",
  per_token_out: "output",
  per_cache_read_token: "cacheRead",
  per_cache_write_token: "cacheWrite",
} as const;

/**
 * Parses the `cf-aig-custom-cost` header: `{"per_token_in":0.000001,"per_token_out":0.000002}` with
 * optional `per_cache_read_token` / `per_cache_write_token`, all USD per token. Returns the same rates
 * as a `Price` (per million tokens; cache rates default to `per_token_in`). Throws an Error naming the
 * problem on invalid JSON, a missing rate, or a rate that is not a non-negative number.
 */
export function parseCustomCost(headerValue: string): Price {
  let parsed: unknown;
  try {
    parsed = JSON.parse(headerValue);
  } catch {
    throw new Error("cf-aig-custom-cost must be JSON such as {\"per_token_in\":0.000001,\"per_token_out\":0.000002}");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error("cf-aig-custom-cost must be a JSON object with per_token_in and per_token_out");
  }
  const fields = parsed as Record<string, unknown>;
  const rates: Partial<Record<keyof Price, number>> = {};
  for (const [field, key] of Object.entries(CUSTOM_COST_FIELDS)) {
    const value = fields[field];
    if (value === undefined && (key === "cacheRead" || key === "cacheWrite")) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new Error(`cf-aig-custom-cost: ${field} must be a non-negative number of USD per token, got ${JSON.stringify(value) ?? "nothing"}`);
    }
    rates[key] = value * 1e6;
  }
  const input = rates.input!;
  return { input, output: rates.output!, cacheRead: rates.cacheRead ?? input, cacheWrite: rates.cacheWrite ?? input };
}
