import { normalized, type VectorIndex, type VectorMatch } from "../vectors.ts";

/** Options of {@link MemoryVectorIndex}. */
export interface MemoryVectorIndexOptions {
  /** Vectors kept per partition; the oldest goes first. A search scans the whole partition. @default 50000 */
  maxPerPartition?: number;
  /** Bytes of vector data kept over all partitions (4 per dimension); the oldest vector anywhere goes first. @default 268435456 (256 MiB) */
  maxBytes?: number;
  /** Called for every vector dropped because it expired or did not fit (not for `delete`). */
  onDrop?(partition: string, key: string): void;
}

interface Item {
  partition: string;
  key: string;
  vector: Float32Array;
  expiresAt: number;
}

/**
 * A `VectorIndex` in process memory: a brute-force scan of normalised Float32Arrays, one partition at a
 * time — about 1 ms per 1,000 vectors of 1,536 dimensions, which is what the bounds are for. Expired
 * vectors met by a search are dropped on the way.
 *
 * @example
 * const index = new MemoryVectorIndex({ maxPerPartition: 10_000 });
 */
export class MemoryVectorIndex implements VectorIndex {
  readonly #partitions = new Map<string, Map<string, Item>>();
  /** Every item, oldest first (a Set keeps insertion order): the byte bound evicts from the front. */
  readonly #all = new Set<Item>();
  readonly #maxPerPartition: number;
  readonly #maxBytes: number;
  readonly #onDrop: (partition: string, key: string) => void;
  #bytes = 0;

  constructor(options: MemoryVectorIndexOptions = {}) {
    this.#maxPerPartition = options.maxPerPartition ?? 50_000;
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#onDrop = options.onDrop ?? (() => {});
  }

  async nearest(partition: string, vector: Float32Array, now = Date.now()): Promise<VectorMatch | null> {
    const items = this.#partitions.get(partition);
    const query = items ? normalized(vector) : null;
    if (!items || !query) return null;
    let best: VectorMatch | null = null;
    for (const item of items.values()) {
      if (item.expiresAt <= now) {
        this.#drop(item);
        continue;
      }
      const stored = item.vector;
      if (stored.length !== query.length) continue;
      let dot = 0;
      for (let i = 0; i < query.length; i++) dot += query[i] * stored[i];
      if (best === null || dot > best.similarity) best = { key: item.key, similarity: dot };
    }
    return best;
  }

  async add(partition: string, key: string, vector: Float32Array, expiresAt: number): Promise<void> {
    const unit = normalized(vector);
    if (!unit) return;
    let items = this.#partitions.get(partition);
    if (!items) this.#partitions.set(partition, (items = new Map()));
    const old = items.get(key);
    if (old) this.#remove(old);
    const item: Item = { partition, key, vector: unit, expiresAt };
    items.set(key, item);
    this.#all.add(item);
    this.#bytes += unit.byteLength;
    for (const oldest of items.values()) {
      if (items.size <= this.#maxPerPartition) break;
      this.#drop(oldest);
    }
    for (const oldest of this.#all) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#drop(oldest);
    }
  }

  async delete(partition: string, key: string): Promise<boolean> {
    const item = this.#partitions.get(partition)?.get(key);
    if (!item) return false;
    this.#remove(item);
    return true;
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    let purged = 0;
    for (const item of this.#all) {
      if (item.expiresAt > now) continue;
      this.#drop(item);
      purged++;
    }
    return purged;
  }

  /** Vectors held now, over all partitions (for tests and health output). */
  get size(): number {
    return this.#all.size;
  }

  #drop(item: Item): void {
    this.#remove(item);
    this.#onDrop(item.partition, item.key);
  }

  #remove(item: Item): void {
    const items = this.#partitions.get(item.partition);
    items?.delete(item.key);
    if (items?.size === 0) this.#partitions.delete(item.partition);
    this.#all.delete(item);
    this.#bytes -= item.vector.byteLength;
  }
}
