import type { ResolvedConfig } from "../config/defaults.ts";
import type { RequestContext } from "../pipeline/context.ts";

/**
 * The provider key the gateway holds for this request's provider — the gateway's own
 * `providers.<slug>.apiKey` first, then the global `providers.<slug>.apiKey` — or null.
 */
export function heldKey(config: ResolvedConfig, ctx: RequestContext): string | null {
  const slug = ctx.provider;
  return ctx.gateway.raw.providers?.[slug]?.apiKey ?? config.providers[slug]?.apiKey ?? null;
}

/** True when the client sent a credential in any of the provider's auth headers. */
export function hasClientCredential(ctx: RequestContext): boolean {
  const headers = ctx.step.headers;
  return ctx.step.provider.authHeaders.some((name) => headers.has(name));
}

/**
 * Puts the gateway's key in the provider's own auth header, only when the client sent none: a
 * client's own key always wins (Cloudflare's BYOK precedence).
 */
export function injectHeldKey(config: ResolvedConfig, ctx: RequestContext): void {
  if (hasClientCredential(ctx)) return;
  const key = heldKey(config, ctx);
  if (key) ctx.step.provider.applyKey(ctx.step.headers, key);
}
