import type { Health } from "../../pipeline/types.ts";
import { consoleHealth } from "../../server/health.ts";
import { MemoryVectorIndex, type MemoryVectorIndexOptions } from "../memory/vectors.ts";
import { normalized, type VectorIndex, type VectorMatch } from "../vectors.ts";
import { fromBase64, toBase64 } from "./bytes.ts";
import { RedisUnavailable, type RedisConnection } from "./connection.ts";
import { DEFAULT_NAMESPACE } from "./keys.ts";
import { ADD, DELETE, PARTITION_KEYS, PURGE, SYNC } from "./vector-scripts.ts";

/** Options of {@link RedisVectorIndex}: the bounds (kept in Redis and in each replica's copy), paging and where faults go. */
export interface RedisVectorIndexOptions extends Omit<MemoryVectorIndexOptions, "onDrop"> {
  /** What every key starts with (see `DEFAULT_NAMESPACE`); a partition's keys are `<namespace>vectors:{<partition>}:…`. @default "sb:" */
  namespace?: string;
  /**
   * Where replies the index cannot use (a script error, a value of another format) are reported, as
   * component `"semantic-cache"`. Redis being away or slow is the connection's to report, as `"redis"`.
   * @default `consoleHealth()`
   */
  health?: Health;
  /** Vectors fetched per command when catching up with a partition (about 8 KiB each at 1,536 dimensions). @default 256 */
  pageSize?: number;
  /**
   * Pages one `nearest` fetches at most before it searches what it has; the next search goes on from
   * there. Bounds the wait of the first search of a large partition on a fresh replica. @default 16
   */
  maxPagesPerSearch?: number;
  /** Deletes and evictions remembered per partition for replicas to catch up on; one further behind reloads the partition. @default 10000 */
  maxTombstones?: number;
}

/** This replica's copy of one partition: which change of which epoch it reflects, and what it holds. */
interface Copy {
  epoch: string;
  seq: number;
  keys: Set<string>;
  syncing: Promise<void> | null;
}

/** Partition keys outlive the partition's last vector by this much (they are garbage after it). */
const KEY_GRACE_MS = 60 * 60 * 1000;
/** Expired vectors one purge script removes from one partition at a time. */
const PURGE_BATCH = 1000;

/**
 * `VectorIndex` shared by every replica: the vectors live in Redis (see `vector-scripts.ts` for the
 * layout), and each replica keeps a copy of the partitions it searches in a {@link MemoryVectorIndex},
 * which answers the search itself.
 *
 * Freshness: every `nearest` first asks Redis what changed in the partition since the copy's sequence
 * number (one small script round trip when nothing did) and applies it, so a vector added or deleted
 * by any replica before the search began is seen by it. Concurrent searches of one partition share
 * one such catch-up. A copy from another epoch (Redis restarted, the partition expired) or too far
 * behind is dropped and reloaded, a page at a time.
 *
 * Bounds: `maxPerPartition` holds in Redis (the add script evicts the oldest, and the eviction reaches
 * the other replicas like a delete); `maxBytes` bounds this process's copies only, evicting from the
 * copy and never from Redis.
 *
 * When Redis is away or slow: `nearest` answers null (the semantic cache misses), `add` is skipped,
 * `delete` drops the local copy only, `purgeExpired` purges the local copies. Nothing throws and no
 * call waits on a dead Redis longer than the connection's timeout (a search of a partition not yet
 * loaded may wait for up to `maxPagesPerSearch` pages while Redis answers).
 *
 * @example
 * const vectors = new RedisVectorIndex(connection, { health, maxPerPartition: 10_000 });
 * await vectors.add("default:9c1d…", "default:3f2a…", embedding, entry.expiresAt); // on replica A
 * await vectors.nearest("default:9c1d…", other); // on replica B: { key: "default:3f2a…", similarity: 0.97 }
 */
export class RedisVectorIndex implements VectorIndex {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #health: Health;
  readonly #memory: MemoryVectorIndex;
  readonly #copies = new Map<string, Copy>();
  readonly #maxPerPartition: number;
  readonly #maxTombstones: number;
  readonly #pageSize: number;
  readonly #maxPages: number;

  constructor(redis: RedisConnection, options: RedisVectorIndexOptions = {}) {
    this.#redis = redis;
    this.#prefix = `${options.namespace ?? DEFAULT_NAMESPACE}vectors:`;
    this.#health = options.health ?? consoleHealth();
    this.#maxPerPartition = options.maxPerPartition ?? 50_000;
    this.#maxTombstones = options.maxTombstones ?? 10_000;
    this.#pageSize = options.pageSize ?? 256;
    this.#maxPages = options.maxPagesPerSearch ?? 16;
    this.#memory = new MemoryVectorIndex({
      maxPerPartition: this.#maxPerPartition,
      maxBytes: options.maxBytes,
      onDrop: (partition, key) => this.#copies.get(partition)?.keys.delete(key),
    });
  }

  async nearest(partition: string, vector: Float32Array, now = Date.now()): Promise<VectorMatch | null> {
    if (!normalized(vector)) return null;
    try {
      await this.#catchUp(partition, now);
      this.#health.recovered("semantic-cache");
    } catch (error) {
      this.#fault(error, "searching prompt vectors");
      return null;
    }
    return this.#memory.nearest(partition, vector, now);
  }

  async add(partition: string, key: string, vector: Float32Array, expiresAt: number): Promise<void> {
    const unit = normalized(vector);
    if (!unit) return;
    const value = `${expiresAt} ${toBase64(new Uint8Array(unit.buffer))}`;
    const ttl = Math.max(0, Math.ceil(expiresAt - Date.now())) + KEY_GRACE_MS;
    let epoch: string, seq: number, evicted: string[];
    try {
      const reply = await this.#redis.script(ADD, this.#keys(partition), [key, value, expiresAt, this.#maxPerPartition, this.#maxTombstones, crypto.randomUUID(), ttl]);
      [epoch, seq, evicted] = addReply(reply);
      this.#health.recovered("semantic-cache");
    } catch (error) {
      this.#fault(error, "indexing a prompt vector");
      return;
    }
    const copy = this.#copy(partition);
    // A new epoch's first change: Redis holds exactly this vector, so the copy can say so already.
    if (seq === 1) this.#clear(partition, copy);
    for (const old of evicted) this.#forget(partition, copy, old);
    await this.#memory.add(partition, key, unit, expiresAt);
    copy.keys.add(key);
    // Every change before this one is in the copy: it reflects this one too, with no fetch.
    if (seq === 1 || (copy.epoch === epoch && copy.seq === seq - 1)) {
      copy.epoch = epoch;
      copy.seq = seq;
    }
  }

  async delete(partition: string, key: string): Promise<boolean> {
    const copy = this.#copies.get(partition);
    const had = await this.#memory.delete(partition, key);
    copy?.keys.delete(key);
    try {
      const removed = await this.#redis.script(DELETE, this.#keys(partition), [key, this.#maxTombstones]);
      this.#health.recovered("semantic-cache");
      return had || removed === 1;
    } catch (error) {
      this.#fault(error, "deleting a prompt vector");
      return had;
    }
  }

  /**
   * Purges expired vectors from the local copies and, in Redis, from every partition this replica
   * holds a copy of (a partition nobody uses expires with its keys). Resolves how many Redis dropped,
   * or the local copies did when Redis could not be reached. Never rejects.
   */
  async purgeExpired(now = Date.now()): Promise<number> {
    const local = await this.#memory.purgeExpired(now);
    let remote = 0;
    let reached = true;
    for (const [partition, copy] of this.#copies) {
      if (reached) {
        try {
          remote += await this.#purge(partition, now);
        } catch (error) {
          this.#fault(error, "purging prompt vectors");
          reached = false;
        }
      }
      // An empty copy is not worth keeping: a later search reloads the partition.
      if (copy.keys.size === 0 && !copy.syncing) this.#copies.delete(partition);
    }
    return reached ? remote : local;
  }

  /** Vectors held in this replica's copies (for tests and health output). */
  get size(): number {
    return this.#memory.size;
  }

  async #purge(partition: string, now: number): Promise<number> {
    let purged = 0;
    for (let batch = 0; batch < 100; batch++) {
      const removed = Number(await this.#redis.script(PURGE, this.#keys(partition), [Math.floor(now), PURGE_BATCH]));
      purged += removed;
      if (removed < PURGE_BATCH) break;
    }
    return purged;
  }

  /** Brings the copy of `partition` up to Redis's state (up to `maxPagesPerSearch` pages), sharing a catch-up already running. */
  #catchUp(partition: string, now: number): Promise<void> {
    const copy = this.#copy(partition);
    copy.syncing ??= this.#pull(partition, copy, now).finally(() => {
      copy.syncing = null;
    });
    return copy.syncing;
  }

  async #pull(partition: string, copy: Copy, now: number): Promise<void> {
    const keys = this.#keys(partition).slice(0, 4);
    for (let page = 0; page < this.#maxPages; page++) {
      const reply = syncReply(await this.#redis.script(SYNC, keys, [copy.epoch, copy.seq, this.#pageSize]));
      if (!reply) {
        // The partition is gone from Redis (restarted, expired): so is everything the copy holds.
        this.#clear(partition, copy);
        copy.epoch = "";
        copy.seq = 0;
        return;
      }
      if (reply.reset || reply.epoch !== copy.epoch) this.#clear(partition, copy);
      copy.epoch = reply.epoch;
      for (const key of reply.removed) this.#forget(partition, copy, key);
      for (let i = 0; i + 1 < reply.adds.length; i += 2) this.#load(partition, copy, reply.adds[i], reply.adds[i + 1], now);
      copy.seq = reply.upTo;
      if (!reply.more) return;
    }
  }

  /** Puts one stored vector into the copy; an expired or unreadable one removes the key instead. */
  #load(partition: string, copy: Copy, key: string, value: string, now: number): void {
    const space = value.indexOf(" ");
    const expiresAt = Number(value.slice(0, space));
    const bytes = space > 0 ? fromBase64(value.slice(space + 1)) : new Uint8Array(0);
    if (!(expiresAt > now) || bytes.byteLength === 0 || bytes.byteLength % 4 !== 0) {
      this.#forget(partition, copy, key);
      return;
    }
    // fromBase64 gives a buffer of its own: aligned, so it can be viewed as Float32 without a copy.
    void this.#memory.add(partition, key, new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), expiresAt);
    copy.keys.add(key);
  }

  #forget(partition: string, copy: Copy, key: string): void {
    void this.#memory.delete(partition, key);
    copy.keys.delete(key);
  }

  #clear(partition: string, copy: Copy): void {
    for (const key of copy.keys) void this.#memory.delete(partition, key);
    copy.keys.clear();
  }

  #copy(partition: string): Copy {
    let copy = this.#copies.get(partition);
    if (!copy) this.#copies.set(partition, (copy = { epoch: "", seq: 0, keys: new Set(), syncing: null }));
    return copy;
  }

  /** The partition's keys in `PARTITION_KEYS` order; the braces make them one Redis Cluster slot. */
  #keys(partition: string): string[] {
    return PARTITION_KEYS.map((part) => `${this.#prefix}{${partition}}:${part}`);
  }

  #fault(error: unknown, during: string): void {
    // Away or slow is the connection's fault to report (component "redis"); anything else is ours.
    if (!(error instanceof RedisUnavailable)) this.#health.fault("semantic-cache", error, { during });
  }
}

interface SyncReply {
  epoch: string;
  upTo: number;
  reset: boolean;
  more: boolean;
  adds: string[];
  removed: string[];
}

const strings = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === "string");

function unexpected(script: string): TypeError {
  return new TypeError(`the ${script} script of the vector index answered in an unexpected shape`);
}

function syncReply(reply: unknown): SyncReply | null {
  if (Array.isArray(reply) && reply.length === 1 && reply[0] === "") return null;
  if (!Array.isArray(reply) || reply.length !== 6) throw unexpected("sync");
  const [epoch, upTo, reset, more, adds, removed] = reply;
  if (typeof epoch !== "string" || typeof upTo !== "number" || !strings(adds) || !strings(removed)) throw unexpected("sync");
  return { epoch, upTo, reset: reset === 1, more: more === 1, adds, removed };
}

function addReply(reply: unknown): [epoch: string, seq: number, evicted: string[]] {
  if (!Array.isArray(reply) || typeof reply[0] !== "string" || typeof reply[1] !== "number" || !strings(reply[2])) throw unexpected("add");
  return [reply[0], reply[1], reply[2]];
}
