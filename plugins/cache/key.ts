import type { RequestContext } from "switchboard";

/** Bumped when what goes into a key changes, so old entries are simply never found again. */
const KEY_VERSION = "v1";

/**
 * Request headers that change what a provider answers (API version and beta features), hashed with
 * the credential. Everything else a client sends (user agent, SDK retry counters, `cf-aig-metadata`)
 * stays out, or no two requests would ever match.
 */
export const ANSWER_HEADERS = ["anthropic-version", "anthropic-beta", "openai-beta"];

/**
 * The store key of a request: `{gateway}:{sha256 hex}`, so entries stay grouped by gateway.
 *
 * The default hash covers the account, and for every step the provider, endpoint, query string,
 * method, each of the provider's credential headers (both `x-api-key` and `authorization` for
 * Anthropic), the answer-shaping headers above and the exact body bytes: two clients with different
 * keys never share an entry. A custom key (`cf-aig-cache-key`) replaces all of that and is shared by
 * every request to the gateway that sends it.
 *
 * @example
 * cacheKey(ctx, null);       // "default:9c1d…" — the default key
 * cacheKey(ctx, "faq-42");   // "default:51ab…" — the same for any body on gateway "default"
 */
export function cacheKey(ctx: RequestContext, customKey: string | null): string {
  const hasher = new Bun.CryptoHasher("sha256");
  if (customKey !== null) {
    hasher.update(JSON.stringify([KEY_VERSION, "custom", ctx.gatewayId, customKey]));
    return `${ctx.gatewayId}:${hasher.digest("hex")}`;
  }
  hasher.update(JSON.stringify([KEY_VERSION, "request", ctx.gatewayId, ctx.accountId, ctx.steps.length]));
  for (const step of ctx.steps) {
    const credential = step.provider.authHeaders.map((name) => [name, step.headers.get(name)]);
    const shaping = ANSWER_HEADERS.map((name) => step.headers.get(name));
    const body = step.body ?? new Uint8Array(0);
    // The body's length goes in the prefix, so the bytes of one step cannot pass for the next step's fields.
    hasher.update(JSON.stringify([step.provider.slug, step.endpoint, step.search, step.method, credential, shaping, body.byteLength]));
    hasher.update(body);
  }
  return `${ctx.gatewayId}:${hasher.digest("hex")}`;
}
