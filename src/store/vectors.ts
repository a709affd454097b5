/**
 * Prompt vectors of the semantic cache: each points at the cache key of the answer it was stored with.
 * Vectors live in partitions (the semantic cache makes one per gateway, credential, provider,
 * endpoint, model and request parameters) and are only ever compared within one. Every method returns
 * a Promise so a networked store (Redis) can implement the same interface.
 */

/** The nearest stored vector of a partition. */
export interface VectorMatch {
  /** The cache key the vector was added with. */
  key: string;
  /** Cosine similarity with the query, from -1 to 1. */
  similarity: number;
}

/**
 * Nearest-neighbour search over prompt vectors, bounded in size (oldest vectors are evicted first).
 * Implementations normalise what they are given: callers pass raw embeddings.
 *
 * @example
 * await vectors.add("default:9c1d…", "default:3f2a…", embedding, entry.expiresAt);
 * const match = await vectors.nearest("default:9c1d…", other); // { key: "default:3f2a…", similarity: 0.97 }
 */
export interface VectorIndex {
  /** The most similar live vector of `partition` (same dimension, expiring after `now`), or null. */
  nearest(partition: string, vector: Float32Array, now?: number): Promise<VectorMatch | null>;
  /** Adds (or replaces) the vector of `key` in `partition`; it is never returned after `expiresAt` (epoch ms). A zero vector is ignored. */
  add(partition: string, key: string, vector: Float32Array, expiresAt: number): Promise<void>;
  /** Removes the vector of `key` from `partition`; resolves true when there was one. */
  delete(partition: string, key: string): Promise<boolean>;
  /** Deletes every vector expired at or before `now`; resolves how many were removed. */
  purgeExpired(now?: number): Promise<number>;
}

/** `vector` scaled to length 1 (a copy), or null for a zero or non-finite vector. */
export function normalized(vector: Float32Array): Float32Array | null {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  if (!(sum > 0) || !Number.isFinite(sum)) return null;
  const scale = 1 / Math.sqrt(sum);
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i] * scale;
  return out;
}
