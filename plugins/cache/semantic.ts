import type { CacheEntry, GatewayHandle, RequestContext, VectorIndex } from "switchboard";
import { embed, type EmbedTarget } from "./embed.ts";
import { promptOf } from "./prompt.ts";

/** Lowest cosine similarity that answers from the cache when the config names none. */
export const DEFAULT_THRESHOLD = 0.95;
/** How long an embedding may take when the config names no `timeout`, in ms. */
export const DEFAULT_EMBED_TIMEOUT_MS = 2000;

/** The health component embedding and index failures are reported as. */
const COMPONENT = "semantic-cache";

/** A request's prompt vector and where it belongs, kept so the answer can be indexed after a miss. */
export interface Probe {
  partition: string;
  vector: Float32Array;
}

/** What a semantic lookup found: a stored answer close enough, or the probe to index the new answer under. */
export type Lookup = { hit: CacheEntry; similarity: number } | { hit: null; probe: Probe };

/**
 * The semantic half of the cache: embeds a request's prompt (see `promptOf` for what is embedded)
 * and looks for the nearest earlier prompt of its partition. Every failure — the embedding route, the
 * index — is reported to `gateway.health` as `"semantic-cache"` and is a plain MISS: it never fails the request.
 */
export class SemanticCache {
  readonly #gateway: GatewayHandle;
  readonly #vectors: VectorIndex;
  readonly #now: () => number;
  readonly #read: (key: string) => Promise<CacheEntry | null>;

  constructor(gateway: GatewayHandle, now: () => number, read: (key: string) => Promise<CacheEntry | null>) {
    this.#gateway = gateway;
    this.#vectors = gateway.stores.vectors;
    this.#now = now;
    this.#read = read;
    for (const [id, resolved] of gateway.config.gateways) {
      const slug = resolved.raw.cache?.semantic?.embed.provider;
      if (slug !== undefined && !gateway.providers.get(slug)) {
        throw new Error(`gateways.${id}.cache.semantic.embed.provider: unknown provider "${slug}"; use one of ${gateway.providers.slugs().join(", ")}`);
      }
    }
  }

  /** Null when the request's gateway has no semantic cache, the request does not take part, or embedding failed. */
  async lookup(ctx: RequestContext): Promise<Lookup | null> {
    const settings = ctx.gateway.raw.cache?.semantic;
    if (!settings) return null;
    const prompt = promptOf(ctx, settings.embed);
    if (!prompt) return null;
    const vector = await this.#embed(ctx, settings.embed, prompt.text, settings.timeout ?? DEFAULT_EMBED_TIMEOUT_MS);
    if (!vector) return null;
    const probe = { partition: prompt.partition, vector };
    try {
      const match = await this.#vectors.nearest(prompt.partition, vector, this.#now());
      if (!match || match.similarity < (settings.threshold ?? DEFAULT_THRESHOLD)) return { hit: null, probe };
      const entry = await this.#read(match.key);
      if (entry) return { hit: entry, similarity: match.similarity };
      // Its answer expired or is gone: the vector can never answer again.
      await this.#vectors.delete(prompt.partition, match.key);
    } catch (error) {
      this.#gateway.health.fault(COMPONENT, error, { during: "searching prompt vectors" });
    }
    return { hit: null, probe };
  }

  /** Indexes the prompt of a stored miss, pointing at its entry. Never rejects. */
  async index(probe: Probe, key: string, entry: CacheEntry): Promise<void> {
    try {
      await this.#vectors.add(probe.partition, key, probe.vector, entry.expiresAt);
    } catch (error) {
      this.#gateway.health.fault(COMPONENT, error, { during: "indexing a prompt vector" });
    }
  }

  /** Drops expired vectors (with the cache's own purge). Never rejects. */
  async purge(): Promise<void> {
    try {
      await this.#vectors.purgeExpired(this.#now());
    } catch (error) {
      this.#gateway.health.fault(COMPONENT, error, { during: "purging prompt vectors" });
    }
  }

  async #embed(ctx: RequestContext, target: EmbedTarget, text: string, timeoutMs: number): Promise<Float32Array | null> {
    try {
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
      const vector = await embed(this.#gateway, ctx.gateway, ctx.accountId, target, text, signal);
      this.#gateway.health.recovered(COMPONENT);
      return vector;
    } catch (error) {
      // A client that left is not a fault of the embedding route.
      if (!ctx.signal.aborted) this.#gateway.health.fault(COMPONENT, error, { during: "embedding a prompt" });
      return null;
    }
  }
}

/** The similarity as the `cf-aig-cache-similarity` header says it: at most 4 decimals, `0.97`. */
export const similarityHeader = (similarity: number) => String(Number(Math.min(1, similarity).toFixed(4)));
