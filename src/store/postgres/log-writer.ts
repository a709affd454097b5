import type { Health, Logger } from "../../pipeline/types.ts";
import type { PostgresDatabase } from "./db.ts";
import { isUnavailable } from "./errors.ts";
import { INSERT_BATCH_SQL, insertParams, type EncodedLog } from "./log-rows.ts";

/** Counters for `GET /health` and tests; the same shape as the SQLite store's. */
export interface LogStoreStats {
  /** Statements (transactions) that wrote queued records. */
  batches: number;
  /** Records written. */
  written: number;
  /** Records lost: refused by PostgreSQL (see the logger), beyond the buffer's bounds, or still held at `close()`. */
  dropped: number;
}

/** Bounds and pacing of {@link PostgresLogWriter}. */
export interface LogWriterLimits {
  /** Records held in memory at most, written or not (`config.storage.logBuffer`); more are dropped and counted. */
  maxRecords: number;
  /** Bytes (roughly) held in memory at most: bodies make some records large. */
  maxBytes: number;
  /** Records per statement, and the queue length that starts a write without waiting for the interval. */
  batchSize: number;
  /** Bytes per statement at most (a batch still takes at least one record). */
  maxBatchBytes: number;
  /** How long a record may wait in the queue before its batch is written. */
  flushIntervalMs: number;
  /** Wait before the first retry after PostgreSQL failed; doubled after each failed retry. */
  minRetryMs: number;
  /** The longest wait between two retries. */
  maxRetryMs: number;
  /** How long `flush()` waits without any batch being written before it gives up (records stay held). */
  timeoutMs: number;
  /** Deadline of one batch statement: past it, PostgreSQL counts as away. */
  writeTimeoutMs: number;
}

interface Queued {
  entry: EncodedLog;
  /** Order of arrival: `settled` and `flush` count in it. */
  seq: number;
}

interface Waiter {
  target: number;
  patienceMs: number;
  resolve(): void;
  timer: Timer;
}

/** Reported to `health` (as its code) when a record does not fit in the buffer. */
class LogBufferFull extends Error {
  override readonly name = "LogBufferFull";
  readonly code = "LOG_BUFFER_FULL";
}

/**
 * The write side of the PostgreSQL log store: a bounded in-memory queue written in batches, one
 * statement each (a multi-row `INSERT … SELECT FROM unnest(…)`), one batch at a time, oldest first,
 * off the request path (`add` only queues). A batch PostgreSQL refuses is retried record by record, and
 * only the records it still refuses are dropped. When PostgreSQL is away (or does not answer within
 * `writeTimeoutMs`), the records stay queued, a fault of `"logs"` is reported to `health`, and the
 * batch is tried again with exponential backoff, so everything held is written once the server is
 * back, without a restart; past `maxRecords` / `maxBytes`, new records are dropped and counted.
 *
 * @example
 * const writer = new PostgresLogWriter(db, { logger, health, stats, limits });
 * if (!writer.add(encodeLog(record))) stats.dropped++;
 * await writer.flush(); // committed, or held after `timeoutMs` without progress
 */
export class PostgresLogWriter {
  private queue: Queued[] = [];
  private head = 0;
  private bytes = 0;
  /** Seq of the latest record queued. */
  private accepted = 0;
  /** Every record up to this seq is written or given up. */
  private settled = 0;
  private writing: Promise<void> | null = null;
  private timer: Timer | null = null;
  private retryTimer: Timer | null = null;
  private delayMs: number;
  /** The latest attempt found PostgreSQL away; what is queued waits for the retry. */
  private down = false;
  private waiters: Waiter[] = [];
  private closed = false;

  constructor(
    private readonly db: PostgresDatabase,
    private readonly options: {
      logger: Logger;
      health: Health;
      stats: LogStoreStats;
      limits: LogWriterLimits;
      /** Awaited after each written batch, before it counts as settled, with the gateways it wrote to (retention). Must not reject. */
      onWritten?: (gatewayIds: Set<string>) => Promise<void>;
    },
  ) {
    this.delayMs = options.limits.minRetryMs;
  }

  /** Records in memory: queued, being written, or held for a retry. */
  get buffered(): number {
    return this.queue.length - this.head;
  }

  /** Records held because PostgreSQL is away, waiting for the next try. */
  get retrying(): number {
    return this.down ? this.buffered : 0;
  }

  /** Queues one record; false (queuing nothing) when it would pass the buffer's bounds. Never waits. */
  add(entry: EncodedLog): boolean {
    const { limits } = this.options;
    if (this.closed) return false;
    if (this.buffered + 1 > limits.maxRecords || this.bytes + entry.bytes > limits.maxBytes) {
      this.options.health.fault("logs", new LogBufferFull(`more than ${limits.maxRecords} logs or ${limits.maxBytes} bytes waiting for PostgreSQL`), {
        during: "buffering logs",
      });
      return false;
    }
    this.queue.push({ entry, seq: ++this.accepted });
    this.bytes += entry.bytes;
    // While PostgreSQL is away the retry timer takes what is queued; a write in progress continues on its own.
    if (this.writing || this.retryTimer) return true;
    // Once per batch: re-arming a timer for every record past the size costs a timer per request under load.
    if (this.buffered === limits.batchSize) this.schedule(0);
    else if (!this.timer) this.schedule(limits.flushIntervalMs);
    return true;
  }

  /**
   * Resolves once every record queued before the call is written (or given up), or when PostgreSQL
   * fails meanwhile, or after `patienceMs` without any batch being written: never later. Records not yet
   * written stay queued. While PostgreSQL is away it tries at once rather than at the next backoff tick.
   */
  flush(patienceMs = this.options.limits.timeoutMs): Promise<void> {
    const target = this.accepted;
    if (this.settled >= target) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const waiter: Waiter = { target, patienceMs, resolve, timer: setTimeout(() => this.release(waiter), patienceMs) };
    this.waiters.push(waiter);
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.pump();
    return promise;
  }

  /**
   * Gives what is queued one last try (waiting as `flush(patienceMs)` does), then stops. Returns how
   * many records could not be written; they are counted as dropped.
   */
  async close(patienceMs: number): Promise<number> {
    if (this.closed) return 0;
    await this.flush(patienceMs);
    this.closed = true;
    if (this.writing) await Promise.race([this.writing, Bun.sleep(patienceMs)]);
    for (const timer of [this.timer, this.retryTimer]) if (timer) clearTimeout(timer);
    this.timer = this.retryTimer = null;
    const lost = this.buffered;
    this.options.stats.dropped += lost;
    this.queue = [];
    this.head = this.bytes = 0;
    this.settled = this.accepted;
    for (const waiter of this.waiters.splice(0)) this.release(waiter);
    return lost;
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, delayMs);
    this.timer.unref();
  }

  /** Starts writing the next batch, unless one is being written or nothing is queued. */
  private pump(): void {
    if (this.writing || this.closed || this.buffered === 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.nextBatch();
    this.writing = this.write(batch)
      .catch((error: unknown) => this.options.logger.error("the PostgreSQL log writer failed", error))
      .finally(() => {
        this.writing = null;
        this.next();
      });
  }

  /** After a batch: go on at once when there is a full batch, a flush waiting or a backlog from an outage. */
  private next(): void {
    if (this.closed || this.buffered === 0 || this.retryTimer) return;
    if (this.buffered >= this.options.limits.batchSize || this.waiters.length > 0) this.pump();
    else if (!this.timer) this.schedule(this.options.limits.flushIntervalMs);
  }

  private nextBatch(): Queued[] {
    const { batchSize, maxBatchBytes } = this.options.limits;
    const end = Math.min(this.queue.length, this.head + batchSize);
    let bytes = 0;
    let i = this.head;
    for (; i < end; i++) {
      bytes += this.queue[i].entry.bytes;
      if (bytes > maxBatchBytes && i > this.head) break;
    }
    return this.queue.slice(this.head, i);
  }

  private async write(batch: Queued[]): Promise<void> {
    try {
      await this.insert(batch);
      await this.written(batch);
      return;
    } catch (error) {
      if (isUnavailable(error)) return this.hold(error);
      if (batch.length === 1) {
        this.drop(batch[0], error);
        return;
      }
      this.options.logger.error(`writing ${batch.length} logs in one transaction failed; retrying them one by one`, error);
    }
    for (const queued of batch) {
      try {
        await this.insert([queued]);
      } catch (error) {
        if (isUnavailable(error)) return this.hold(error);
        this.drop(queued, error);
        continue;
      }
      await this.written([queued]);
    }
  }

  /** A batch is in: retention for its gateways (as the SQLite writer prunes after a batch), then it counts as written. */
  private async written(batch: Queued[]): Promise<void> {
    await this.options.onWritten?.(new Set(batch.map((queued) => queued.entry.gatewayId)));
    this.settle(batch.length, "written");
  }

  private insert(batch: Queued[]): Promise<unknown> {
    const params = insertParams(batch.map((queued) => queued.entry));
    return this.db.run((sql) => sql.unsafe(INSERT_BATCH_SQL, params), "writing logs", this.options.limits.writeTimeoutMs);
  }

  private drop(queued: Queued, error: unknown): void {
    this.options.logger.error(`log ${queued.entry.id} could not be stored`, error);
    this.settle(1, "dropped");
  }

  /** The first `count` queued records are written or given up: off the queue, and the waiters told. */
  private settle(count: number, outcome: "written" | "dropped"): void {
    if (this.closed) return;
    const { stats } = this.options;
    const done = this.queue.slice(this.head, this.head + count);
    this.head += count;
    for (const queued of done) this.bytes -= queued.entry.bytes;
    this.settled = done.at(-1)?.seq ?? this.settled;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (outcome === "dropped") stats.dropped += count;
    else {
      stats.written += count;
      stats.batches++;
      this.recovered();
    }
    for (const waiter of [...this.waiters]) {
      if (this.settled >= waiter.target) this.release(waiter);
      else waiter.timer.refresh();
    }
  }

  /** A batch went in: the next failure starts a short backoff again, and a fault of "logs" (outage, overflow) may end. */
  private recovered(): void {
    this.delayMs = this.options.limits.minRetryMs;
    this.down = false;
    this.options.health.recovered("logs");
  }

  /** PostgreSQL is away: keep everything queued, tell the waiters, and try again after the backoff. */
  private hold(error: unknown): void {
    if (this.closed) return;
    this.down = true;
    this.options.health.fault("logs", error, { during: "writing logs to PostgreSQL" });
    for (const waiter of this.waiters.splice(0)) this.release(waiter);
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, this.delayMs);
    this.retryTimer.unref();
    this.delayMs = Math.min(this.delayMs * 2, this.options.limits.maxRetryMs);
  }

  private release(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    const index = this.waiters.indexOf(waiter);
    if (index !== -1) this.waiters.splice(index, 1);
    waiter.resolve();
  }
}
