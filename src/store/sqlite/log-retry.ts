import type { EncodedBatch } from "./log-messages.ts";

/** A batch, or the part of it still to be written, waiting for the storage to take writes again. */
export interface HeldBatch {
  batch: EncodedBatch;
  /** Indexes into the batch of the records still to write; null: all of them. */
  only: number[] | null;
  /** How many records `only` names (the batch's count when null). */
  count: number;
  /** Called once the records are written or given up: the batch's memory may then be reused. */
  done(): void;
}

/** Bounds and pacing of {@link RetryQueue}. */
export interface RetryLimits {
  /** Records held at most; a failed batch that does not fit is dropped (and counted). @default 10000 */
  maxRecords: number;
  /** Bytes of batch buffers held at most. @default 67108864 (64 MiB) */
  maxBytes: number;
  /** Wait before the first retry; doubled after each retry that fails. @default 1000 */
  minDelayMs: number;
  /** The longest wait between two retries. @default 30000 */
  maxDelayMs: number;
}

/** What the log store holds back at most, and how it paces retries, unless told otherwise. */
export const DEFAULT_RETRY_LIMITS: RetryLimits = { maxRecords: 10_000, maxBytes: 64 * 1024 * 1024, minDelayMs: 1000, maxDelayMs: 30_000 };

/** The memory a held batch keeps alive: its whole buffers, not just the views. */
const bytesOf = (held: HeldBatch) => held.batch.rows.buffer.byteLength + held.batch.bodies.buffer.byteLength;

/**
 * Log records a storage fault (disk full, I/O error) kept from being written, held for another try
 * instead of being lost. Bounded in records and bytes; retried by a timer with exponential backoff
 * (unref'd: it never keeps the process alive), or sooner when the owner sees a write succeed.
 *
 * @example
 * const queue = new RetryQueue(DEFAULT_RETRY_LIMITS, () => queue.takeAll().forEach(resend));
 * if (!queue.hold(held)) drop(held);
 */
export class RetryQueue {
  #held: HeldBatch[] = [];
  #records = 0;
  #bytes = 0;
  #delayMs: number;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly limits: RetryLimits,
    private readonly retry: () => void,
  ) {
    this.#delayMs = limits.minDelayMs;
  }

  /** Records held now. */
  get records(): number {
    return this.#records;
  }

  /** Holds `held` and makes sure a retry is scheduled; false (holding nothing) when it would pass a bound. */
  hold(held: HeldBatch): boolean {
    const bytes = bytesOf(held);
    if (this.#records + held.count > this.limits.maxRecords || this.#bytes + bytes > this.limits.maxBytes) return false;
    this.#held.push(held);
    this.#records += held.count;
    this.#bytes += bytes;
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#delayMs = Math.min(this.#delayMs * 2, this.limits.maxDelayMs);
        this.retry();
      }, this.#delayMs);
      this.#timer.unref();
    }
    return true;
  }

  /** Everything held, oldest first; the queue is then empty and no retry is scheduled. */
  takeAll(): HeldBatch[] {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const held = this.#held;
    this.#held = [];
    this.#records = this.#bytes = 0;
    return held;
  }

  /** A write went through: the next wait starts short again. */
  succeeded(): void {
    this.#delayMs = this.limits.minDelayMs;
  }
}
