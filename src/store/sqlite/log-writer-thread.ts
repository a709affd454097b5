import type { Database } from "bun:sqlite";
import { resolve } from "node:path";
import type { Health, Logger } from "../../pipeline/types.ts";
import { deserializeError, type EncodedBatch, type WriterReply, type WriterRequest } from "./log-messages.ts";
import { RetryQueue, type HeldBatch, type RetryLimits } from "./log-retry.ts";
import { LogWriter } from "./log-writes.ts";

/** A writer thread that stops more often than this within `RESTART_WINDOW_MS` is given up for the request thread. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

/** Counters for health checks and tests. */
export interface LogStoreStats {
  /** Transactions that wrote queued records. */
  batches: number;
  /** Records written. */
  written: number;
  /** Records lost because writing them failed (see the logger), the retry queue was full, or they arrived after `close()`. */
  dropped: number;
}

export interface LogWriterThreadOptions {
  logger: Logger;
  /** Where storage faults are reported, as component `"logs"`. */
  health: Health;
  /** Bounds and pacing of the records held back by a storage fault. */
  retry: RetryLimits;
  stats: LogStoreStats;
  pruneIntervalMs: number;
  /** Where writes happen. `"main"` is forced for `:memory:` and temporary databases, which no second connection can open. */
  thread: "worker" | "main";
  /** The writer thread's entry; tests swap it. @default the built-in log-writer.ts */
  entry?: string;
}

type Sendable = WriterRequest extends infer R ? (R extends unknown ? Omit<R, "seq"> : never) : never;

interface Pending {
  resolve(value: number): void;
  reject(error: Error): void;
  /** What is sent again if the writer thread dies before answering: batches and prunes, which may run twice. */
  retry?: Sendable;
  /** The batch (or the part of it being retried), for the counters and the retry queue. */
  batch?: HeldBatch;
}

interface Port {
  post(request: WriterRequest): void;
  /** Keeps the process alive while the port has work. */
  busy(busy: boolean): void;
  close(): void;
}

/**
 * Where the writer thread's code is. Run from source: next to this file. In a compiled binary this
 * module's URL is the binary's own (`file:///$bunfs/root/switchboard`; `B:/~BUN/root/…` on Windows) and
 * each entrypoint of the build is embedded at its path under the entrypoints' common folder, src/.
 */
function defaultEntry(): string {
  const here = import.meta.url;
  const compiled = here.includes("/$bunfs/") || here.includes("/~BUN/");
  return new URL(compiled ? "./store/sqlite/log-writer.ts" : "./log-writer.ts", here).href;
}

/**
 * The request thread's side of the log writer. Requests are numbered and answered in order, so
 * `idle()` (everything sent so far is answered) is a flush. If the writer thread dies, unanswered
 * batches and prunes go to a new one under their numbers (writing a record twice is harmless: inserts
 * replace by log id), other unanswered requests fail; after `MAX_RESTARTS` deaths within a minute the
 * writes move to the request thread's own connection, so logs keep being stored either way and the
 * process never goes down.
 *
 * Records a storage fault (disk full, I/O error) kept out wait in a bounded `RetryQueue` and are sent
 * again with backoff, or as soon as another batch is written; the fault shows in `health` as `"logs"`
 * until they are all written. `idle()` does not wait for them: a read must not hang on a full disk.
 */
export class LogWriterThread {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** `idle()` calls waiting for every request up to `seq` to be answered. */
  private waiters: { seq: number; resolve: () => void }[] = [];
  private port: Port;
  private readonly restarts: number[] = [];
  private closing = false;
  private readonly held: RetryQueue;
  /** Set by `close()` for the last try of held records: what the storage still refuses is then lost, not held. */
  private final: { lost: number } | null = null;

  constructor(
    private readonly db: Database,
    private readonly options: LogWriterThreadOptions,
  ) {
    this.held = new RetryQueue(options.retry, () => this.resendHeld());
    const file = db.filename;
    const shareable = file !== "" && file !== ":memory:" && !file.startsWith("file::memory:");
    this.port = options.thread === "worker" && shareable ? this.startWorker(resolve(file)) : this.inThread();
  }

  /**
   * Sends a batch to be written in one transaction; resolves once every record of it is written or
   * given up (its losses counted), after retries if a storage fault held some back. It is kept until
   * then, to be sent again if the writer thread dies or the storage refuses it.
   */
  writeBatch(batch: EncodedBatch): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.sendBatch({ batch, only: null, count: batch.count, done: resolve });
    return promise;
  }

  /** Records held back by a storage fault and not yet written: in the retry queue or being retried. */
  get retrying(): number {
    let records = this.held.records;
    for (const entry of this.pending.values()) if (entry.batch?.only) records += entry.batch.count;
    return records;
  }

  /**
   * An `exec` or `prune`; resolves with the rows it changed. A prune is sent again if the writer
   * thread dies first; an `exec` fails instead (a `DELETE … LIMIT n` run twice would delete twice).
   */
  request(request: Extract<Sendable, { kind: "exec" | "prune" }>): Promise<number> {
    return this.send(request, { retry: request.kind === "prune" ? request : undefined });
  }

  /** Resolves once every request sent so far has been answered. */
  idle(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.waiters.push({ seq: this.seq, resolve });
    this.wakeWaiters();
    return promise;
  }

  /** Waits for what was sent, gives held records one last try, then stops the writer and its connection. */
  async close(): Promise<void> {
    await this.idle();
    this.final = { lost: 0 };
    this.resendHeld();
    await this.idle();
    const { lost } = this.final;
    if (lost > 0) this.options.logger.error(`${lost} log${lost === 1 ? "" : "s"} held back by a storage fault could not be written before closing; lost`);
    await this.send({ kind: "close" }).catch((error) => this.options.logger.error("closing the log writer failed", error));
    this.closing = true;
    this.port.close();
  }

  private sendBatch(held: HeldBatch): void {
    const request: Sendable = { kind: "batch", ...held.batch, ...(held.only ? { only: held.only } : {}) };
    // Its answer is handled in `onBatchAnswered`; `held.done` settles the caller.
    void this.send(request, { retry: request, batch: held });
  }

  /** Sends everything the retry queue holds. */
  private resendHeld(): void {
    for (const held of this.held.takeAll()) this.sendBatch(held);
  }

  private send(request: Sendable, entry: Pick<Pending, "retry" | "batch"> = {}): Promise<number> {
    const seq = ++this.seq;
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    this.pending.set(seq, { resolve, reject, ...entry });
    if (this.pending.size === 1) this.port.busy(true);
    this.port.post({ ...request, seq } as WriterRequest);
    return promise;
  }

  private onReply(port: Port, reply: WriterReply): void {
    // A writer thread that was replaced may still have had something to say; its work is being redone.
    if (port !== this.port) return;
    if (reply.kind === "error") {
      if (reply.logId !== undefined) this.options.stats.dropped++;
      if (reply.during !== undefined) this.options.health.fault("logs", deserializeError(reply.error), { during: reply.during });
      else this.options.logger.error(reply.message, deserializeError(reply.error));
      return;
    }
    const entry = this.pending.get(reply.seq);
    if (!entry) return;
    this.pending.delete(reply.seq);
    if (this.pending.size === 0) port.busy(false);
    // Before waking `idle()`: by then a batch is either settled or in the retry queue.
    if (entry.batch) this.onBatchAnswered(entry.batch, reply);
    this.wakeWaiters();
    if (reply.kind === "failed" && !entry.batch) return entry.reject(deserializeError(reply.error));
    entry.resolve(reply.kind === "done" ? reply.value : 0);
  }

  private onBatchAnswered(held: HeldBatch, reply: Extract<WriterReply, { kind: "done" | "failed" }>): void {
    const { stats, health } = this.options;
    if (reply.kind === "failed") {
      // A batch is answered "failed" only when it could not even be read; it never rejects a flush.
      stats.dropped += held.count;
      this.options.logger.error(`writing ${held.count} logs failed; they are lost`, deserializeError(reply.error));
      return held.done();
    }
    stats.batches += reply.transactions ?? 0;
    stats.written += reply.value;
    if (reply.retry && reply.retry.length > 0) {
      health.fault("logs", reply.error ? deserializeError(reply.error) : new Error("a storage fault"), { during: "writing logs" });
      const rest: HeldBatch = { ...held, only: reply.retry, count: reply.retry.length };
      if (this.final || !this.held.hold(rest)) {
        stats.dropped += rest.count;
        if (this.final) this.final.lost += rest.count;
        rest.done();
      }
      return;
    }
    held.done();
    if (reply.value === 0) return;
    // The storage takes writes again: what it refused before goes now, not at the next tick of the backoff.
    this.held.succeeded();
    if (this.held.records > 0) this.resendHeld();
    else if (this.retrying === 0) health.recovered("logs");
  }

  private onWorkerClosed(port: Port, code: number): void {
    if (port !== this.port || this.closing) return;
    const now = Date.now();
    while (this.restarts.length > 0 && now - this.restarts[0] > RESTART_WINDOW_MS) this.restarts.shift();
    this.restarts.push(now);
    const giveUp = this.restarts.length > MAX_RESTARTS;
    this.options.logger.error(
      giveUp
        ? `the log writer thread stopped (exit code ${code}) ${this.restarts.length} times within a minute; writing logs on the request thread from now on`
        : `the log writer thread stopped (exit code ${code}); restarting it`,
    );
    const unanswered = [...this.pending].sort(([a], [b]) => a - b);
    this.pending.clear();
    this.port = giveUp ? this.inThread() : this.startWorker(resolve(this.db.filename));
    for (const [seq, entry] of unanswered) {
      if (!entry.retry) {
        entry.reject(new Error("the log writer thread stopped before answering"));
        continue;
      }
      this.pending.set(seq, entry);
      if (this.pending.size === 1) this.port.busy(true);
      this.port.post({ ...entry.retry, seq } as WriterRequest);
    }
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    let oldest = Infinity;
    for (const seq of this.pending.keys()) oldest = Math.min(oldest, seq);
    this.waiters = this.waiters.filter((waiter) => {
      if (waiter.seq >= oldest) return true;
      waiter.resolve();
      return false;
    });
  }

  private startWorker(path: string): Port {
    const worker = new Worker(this.options.entry ?? defaultEntry(), { name: "switchboard-log-writer" });
    // Idle, the writer must not keep the process alive; busy, it must (a flush on shutdown waits for it).
    worker.unref();
    const port: Port = {
      post: (request) => worker.postMessage(request),
      busy: (busy) => (busy ? worker.ref() : worker.unref()),
      close: () => worker.terminate(),
    };
    worker.onmessage = (event: MessageEvent<WriterReply>) => this.onReply(port, event.data);
    worker.addEventListener("error", (event) => {
      event.preventDefault();
      this.options.logger.error("the log writer thread failed", event.error ?? event.message);
    });
    worker.addEventListener("close", (event) => this.onWorkerClosed(port, event.code));
    this.port = port;
    // Answered before anything sent after it; a failure to open ends the thread (onWorkerClosed says so).
    this.send({ kind: "open", path, pruneIntervalMs: this.options.pruneIntervalMs }).catch(() => {});
    return port;
  }

  /** The same writer on the request thread's own connection. */
  private inThread(): Port {
    const port: Port = {
      post: (request) => {
        if (request.kind === "open") this.onReply(port, { kind: "done", seq: request.seq, value: 0 });
        else writer.handle(request);
      },
      busy: () => {},
      close: () => {},
    };
    const writer = new LogWriter(this.db, (reply) => this.onReply(port, reply), this.options.pruneIntervalMs);
    return port;
  }
}
