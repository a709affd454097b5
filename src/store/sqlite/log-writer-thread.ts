import type { Database } from "bun:sqlite";
import { resolve } from "node:path";
import type { Logger } from "../../pipeline/types.ts";
import { deserializeError, type EncodedBatch, type WriterReply, type WriterRequest } from "./log-messages.ts";
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
  /** Records lost because writing them failed (see the logger) or they arrived after `close()`. */
  dropped: number;
}

export interface LogWriterThreadOptions {
  logger: Logger;
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
  /** The batch, for the counters. */
  batch?: EncodedBatch;
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
 */
export class LogWriterThread {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** `idle()` calls waiting for every request up to `seq` to be answered. */
  private waiters: { seq: number; resolve: () => void }[] = [];
  private port: Port;
  private readonly restarts: number[] = [];
  private closing = false;

  constructor(
    private readonly db: Database,
    private readonly options: LogWriterThreadOptions,
  ) {
    const file = db.filename;
    const shareable = file !== "" && file !== ":memory:" && !file.startsWith("file::memory:");
    this.port = options.thread === "worker" && shareable ? this.startWorker(resolve(file)) : this.inThread();
  }

  /**
   * Sends a batch to be written in one transaction; resolves once it is answered (written, or its
   * losses reported). It is kept until then, to be sent again if the writer thread dies first.
   */
  async writeBatch(batch: EncodedBatch): Promise<void> {
    const request: Sendable = { kind: "batch", ...batch };
    await this.send(request, { retry: request, batch });
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

  /** Waits for what was sent, then stops the writer and its connection. */
  async close(): Promise<void> {
    await this.idle();
    await this.send({ kind: "close" }).catch((error) => this.options.logger.error("closing the log writer failed", error));
    this.closing = true;
    this.port.close();
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
      this.options.logger.error(reply.message, deserializeError(reply.error));
      return;
    }
    const entry = this.pending.get(reply.seq);
    if (!entry) return;
    this.pending.delete(reply.seq);
    if (this.pending.size === 0) port.busy(false);
    this.wakeWaiters();
    if (reply.kind === "failed") {
      const error = deserializeError(reply.error);
      if (!entry.batch) return entry.reject(error);
      // A batch is answered "failed" only when it could not even be read; it never rejects a flush.
      this.options.stats.dropped += entry.batch.count;
      this.options.logger.error(`writing ${entry.batch.count} logs failed; they are lost`, error);
      return entry.resolve(0);
    }
    if (entry.batch) {
      this.options.stats.batches += reply.transactions ?? 0;
      this.options.stats.written += reply.value;
    }
    entry.resolve(reply.value);
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
