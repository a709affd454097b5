import { booleanOption, integerOption, type RequestContext } from "switchboard";

/** The longest TTL a header may ask for: one month, Cloudflare's maximum. */
export const MAX_TTL_SECONDS = 2_592_000;
/** TTL of a request that opts in with `cf-aig-cache-key` alone on a gateway without `cache.ttl`. */
export const CUSTOM_KEY_TTL_SECONDS = 300;
/** Largest request body, and largest answer, that is cached (Cloudflare's 25 MB). */
export const MAX_CACHED_BYTES = 25 * 1024 * 1024;

/** Methods whose answers may be cached; PUT, PATCH and DELETE change things and always go upstream. */
const CACHEABLE_METHODS = new Set(["GET", "POST"]);

/** What caching does for one request, when it applies at all. */
export interface CachePolicy {
  ttlSeconds: number;
  /** `cf-aig-cache-key`, replacing the default key; null for the default key. */
  customKey: string | null;
}

/**
 * Reads the cache options of a request (step header > request header, `cf-aig-*` before the
 * deprecated `cf-cache-ttl` / `cf-skip-cache`) and decides. Null means: no read, no write, MISS.
 * An unusable value is refused with 400/2104 even when another option turns caching off. The body
 * is read only when caching applies (the key hashes it), so an uncached refusal further on costs no upload.
 */
export async function cachePolicy(ctx: RequestContext): Promise<CachePolicy | null> {
  const range = { min: 0, max: MAX_TTL_SECONDS };
  const headerTtl = integerOption(ctx, "cf-aig-cache-ttl", range) ?? integerOption(ctx, "cf-cache-ttl", range);
  const skip = booleanOption(ctx, "cf-aig-skip-cache") ?? booleanOption(ctx, "cf-skip-cache") ?? false;
  const customKey = ctx.option("cf-aig-cache-key") || null;
  if (skip || headerTtl === 0) return null;
  const gatewayTtl = ctx.gateway.raw.cache?.ttl ?? 0;
  const ttlSeconds = headerTtl ?? (gatewayTtl || (customKey ? CUSTOM_KEY_TTL_SECONDS : 0));
  if (ttlSeconds === 0) return null;
  if (ctx.steps.some((step) => !CACHEABLE_METHODS.has(step.method))) return null;
  await ctx.loadBody();
  for (const step of ctx.steps) {
    if (step.body && step.body.byteLength > MAX_CACHED_BYTES) return null;
  }
  return { ttlSeconds, customKey };
}
