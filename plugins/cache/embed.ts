import type { GatewayHandle, ProviderDef, ResolvedGateway } from "switchboard";

/** Largest embeddings answer read, in bytes (a 3,072-dimension float vector is ~70 KB of JSON). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;
/** Largest vector accepted. */
const MAX_DIMENSIONS = 16_384;

/** Where prompts are embedded: a provider's OpenAI-compatible embeddings route and model. */
export interface EmbedTarget {
  provider: string;
  model: string;
}

/** Why an embedding failed, by name only: the health report never carries a body or a key. */
export class EmbeddingError extends Error {
  override name = "EmbeddingError";
}

/** The embeddings endpoint of a provider, under its base URL (Workers AI's OpenAI-compatible routes sit beside `/run`). */
const endpointOf = (provider: ProviderDef) => (provider.slug === "workers-ai" ? "v1/embeddings" : "embeddings");

/**
 * Embeds one text through the gateway's own provider route: `POST {provider base}/embeddings` (the URL
 * built and confined by the provider registry, exactly as a proxied request's) with the key the gateway
 * holds for that provider — the gateway's `providers.<slug>.apiKey`, then the global one, else no key.
 * A client's credential is never sent: the embedding provider may not be the one the client called.
 * Rejects with an `EmbeddingError` (or the fetch's own error) on any failure; the caller counts it a MISS.
 *
 * @example
 * const vector = await embed(gateway, ctx.gateway, ctx.accountId, { provider: "openai", model: "text-embedding-3-small" }, "user: hi", signal);
 */
export async function embed(gateway: GatewayHandle, owner: ResolvedGateway, accountId: string, target: EmbedTarget, text: string, signal: AbortSignal): Promise<Float32Array> {
  const provider = gateway.providers.get(target.provider);
  if (!provider) throw new EmbeddingError(`unknown embedding provider`);
  const url = gateway.providers.url(provider, accountId, endpointOf(provider), "");
  const headers = new Headers({ "content-type": "application/json", accept: "application/json" });
  const key = owner.raw.providers?.[provider.slug]?.apiKey ?? gateway.config.providers[provider.slug]?.apiKey;
  if (key) provider.applyKey(headers, key);
  const response = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ model: target.model, input: text, encoding_format: "float" }),
    signal,
    redirect: "error",
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new EmbeddingError(`the embeddings route answered HTTP ${response.status}`);
  }
  if (Number(response.headers.get("content-length") ?? 0) > MAX_ANSWER_BYTES) {
    await response.body?.cancel();
    throw new EmbeddingError("the embeddings answer is too large");
  }
  const bytes = await response.arrayBuffer();
  if (bytes.byteLength > MAX_ANSWER_BYTES) throw new EmbeddingError("the embeddings answer is too large");
  return vectorOf(JSON.parse(new TextDecoder().decode(bytes)));
}

/** `data[0].embedding` of an OpenAI-style embeddings answer, as a Float32Array. */
function vectorOf(answer: unknown): Float32Array {
  const embedding = (answer as { data?: { embedding?: unknown }[] } | null)?.data?.[0]?.embedding;
  if (!Array.isArray(embedding) || embedding.length === 0 || embedding.length > MAX_DIMENSIONS) {
    throw new EmbeddingError("the embeddings answer has no usable data[0].embedding");
  }
  const vector = new Float32Array(embedding.length);
  for (let i = 0; i < embedding.length; i++) {
    const value = embedding[i];
    if (typeof value !== "number" || !Number.isFinite(value)) throw new EmbeddingError("the embeddings answer has a non-numeric value");
    vector[i] = value;
  }
  return vector;
}
