import { definePlugin, type CacheEntry, type CacheStore, type FlightStore, type Land, type Logger, type Next, type RequestContext } from "switchboard";
import { entryFromRecord, replay, replayableHeaders, type PendingWrite } from "./entry.ts";
import { cacheKey } from "./key.ts";
import { cachePolicy, MAX_CACHED_BYTES, type CachePolicy } from "./policy.ts";
import { SemanticCache, similarityHeader, type Probe } from "./semantic.ts";

export { cacheKey } from "./key.ts";
export { CUSTOM_KEY_TTL_SECONDS, MAX_CACHED_BYTES, MAX_TTL_SECONDS } from "./policy.ts";
export { MAX_PROMPT_CHARS, promptOf } from "./prompt.ts";
export { DEFAULT_EMBED_TIMEOUT_MS, DEFAULT_THRESHOLD } from "./semantic.ts";


/** Options of {@link cache}; the built-in `"cache"` uses the defaults. */
export interface CacheOptions {
  /** The clock, in epoch ms, that decides expiry (tests move it forward). @default Date.now */
  now?: () => number;
  /** How often expired entries are deleted from the store, in ms (the timer never keeps the process alive). @default 60000 */
  purgeIntervalMs?: number;
}

/**
 * Answers identical requests from the cache (built-in `"cache"`). Off unless the gateway sets
 * `cache: { ttl }` or the request sends `cf-aig-cache-ttl` (> 0) or `cf-aig-cache-key`;
 * `cf-aig-cache-ttl: 0` and `cf-aig-skip-cache: true` turn it off for one request. Every answer says
 * `cf-aig-cache-status: HIT` or `MISS`; a hit sends nothing upstream, costs 0 and is logged cached.
 *
 * Only 2xx answers of at most 25 MiB that were delivered whole are stored, streams included (a hit
 * replays the same SSE bytes). Concurrent identical misses make one upstream call: the others wait
 * for it and answer HIT from what it stored; when it stored nothing (non-2xx, error, too large), each
 * of them goes upstream on its own.
 *
 * With `cache.semantic` (see `promptOf` and the README's "Semantic cache"), an exact miss of a chat-like
 * request embeds its prompt through the gateway's own provider route and replays the answer of the
 * nearest earlier prompt of the same partition when the cosine similarity reaches the threshold
 * (HIT, plus `cf-aig-cache-similarity`); otherwise the answer is stored as usual and its prompt
 * vector indexed. A custom `cf-aig-cache-key` names its entry exactly and never takes part.
 *
 * @example
 * export default defineConfig({ gateways: { default: { cache: { ttl: 3600 } } }, plugins: ["cache", "logging"] });
 */
export function cache(options: CacheOptions = {}) {
  const { now = Date.now, purgeIntervalMs = 60_000 } = options;
  const pending = new WeakMap<RequestContext, PendingWrite & { land: Land | null; probe: Probe | null }>();
  let store: CacheStore;
  let flights: FlightStore;
  let logger: Logger;
  let semantic: SemanticCache;
  let purgeTimer: ReturnType<typeof setInterval> | null = null;

  async function read(key: string): Promise<CacheEntry | null> {
    try {
      return await store.get(key, now());
    } catch (error) {
      logger.error("cache: reading an entry failed; answering from the provider", error);
      return null;
    }
  }

  async function forward(ctx: RequestContext, next: Next, key: string, policy: CachePolicy, land: Land | null, probe: Probe | null = null): Promise<Response> {
    let response: Response;
    try {
      response = await next();
    } catch (error) {
      land?.(null);
      throw error;
    }
    if (response.status < 200 || response.status > 299) {
      land?.(null);
      return response;
    }
    ctx.captureResponse(MAX_CACHED_BYTES);
    // The provider's own headers, taken here: the record only has a redacted copy.
    const headers = replayableHeaders(response.headers);
    pending.set(ctx, { key, ttlSeconds: policy.ttlSeconds, status: response.status, headers, step: ctx.stepIndex, receivedAt: now(), land, probe });
    return response;
  }

  /** Waits for the leader of an identical request, then replays what it stored or goes upstream. */
  async function follow(ctx: RequestContext, next: Next, key: string, policy: CachePolicy, waiting: Promise<CacheEntry | null>): Promise<Response> {
    const landed = await waiting;
    if (landed && landed.expiresAt > now()) return replay(ctx, landed);
    return forward(ctx, next, key, policy, null);
  }

  /** Stores the entry; resolves it when it was stored, null when it could not be. */
  async function save(key: string, entry: CacheEntry): Promise<CacheEntry | null> {
    try {
      await store.put(key, entry);
      return entry;
    } catch (error) {
      logger.error("cache: writing an entry failed", error);
      return null;
    }
  }

  return definePlugin({
    name: "cache",
    // The body is read only when caching applies (cachePolicy loads it).
    readsBody: false,
    // A coalesced miss waits here for another request's upstream answer, which the request timeout bounds.
    timeout: 0,
    setup(gateway) {
      store = gateway.stores.cache;
      flights = gateway.stores.flights;
      logger = gateway.logger;
      semantic = new SemanticCache(gateway, now, read);
      const purge = () => {
        store.purgeExpired(now()).catch((error) => logger.error("cache: purging expired entries failed", error));
        void semantic.purge();
      };
      purge();
      purgeTimer = setInterval(purge, purgeIntervalMs);
      purgeTimer.unref();
    },
    async handle(ctx, next) {
      // A plugin further out retried through us: the earlier attempt's answer is not the one delivered.
      const earlier = pending.get(ctx);
      if (earlier) {
        pending.delete(ctx);
        earlier.land?.(null);
      }
      const policy = await cachePolicy(ctx);
      if (!policy) return next();
      const key = cacheKey(ctx, policy.customKey);
      const stored = await read(key);
      if (stored) return replay(ctx, stored);
      // With a semantic cache, a request that would only follow a leader must not pay an embedding
      // first; without one, `join` alone answers the same (one store call: a Redis round trip saved).
      const semanticOn = policy.customKey === null && ctx.gateway.raw.cache?.semantic !== undefined;
      if (semanticOn) {
        const waiting = await flights.follow(key, read);
        if (waiting) return follow(ctx, next, key, policy, waiting.landed);
      }
      const similar = semanticOn ? await semantic.lookup(ctx) : null;
      if (similar?.hit) {
        ctx.responseHeaders.set("cf-aig-cache-similarity", similarityHeader(similar.similarity));
        return replay(ctx, similar.hit);
      }
      // An identical request may have become the leader while this one was embedding.
      const flight = await flights.join(key, read);
      if (!flight.leader) return follow(ctx, next, key, policy, flight.landed);
      return forward(ctx, next, key, policy, flight.land, similar?.probe ?? null);
    },
    async onComplete(record, ctx) {
      const write = pending.get(ctx);
      if (!write) return;
      pending.delete(ctx);
      const entry = entryFromRecord(record, write);
      const saved = entry ? await save(write.key, entry) : null;
      // Always land, stored or not: followers are waiting on it.
      write.land?.(saved);
      if (saved && write.probe) await semantic.index(write.probe, write.key, saved);
    },
    close() {
      if (purgeTimer) clearInterval(purgeTimer);
      purgeTimer = null;
    },
  });
}
