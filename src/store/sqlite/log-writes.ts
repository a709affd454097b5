import type { Database, SQLQueryBindings, Statement } from "bun:sqlite";
import type { RetentionPolicy } from "../types.ts";
import { isStorageFault } from "./faults.ts";
import { decodeBatch, serializeError, type SerializedError, type WriterReply, type WriterRequest } from "./log-messages.ts";
import { DELETE_LOG_SQL, INSERT_LOG_SQL, INSERT_PAYLOAD_SQL } from "./log-rows.ts";
import { LogMetadataRollup } from "./log-metadata.ts";

const DAY_MS = 86_400_000;

type Row = [SQLQueryBindings[], SQLQueryBindings[] | null];
type BatchRequest = Extract<WriterRequest, { kind: "batch" }>;

/** What a request is answered with (see `WriterReply` "done"). */
interface Outcome {
  value: number;
  transactions?: number;
  /** Indexes of the records a storage fault kept out, to be sent again. */
  retry?: number[];
  error?: SerializedError;
}

/** An `Outcome` of a batch while it is being written. */
type BatchOutcome = { value: number; transactions: number; retry: number[]; error?: SerializedError };

/**
 * The write side of the SQLite log store, on its own connection: batches in one transaction each
 * (a batch the database refuses is retried record by record, and only the records that still fail are
 * dropped; records a storage fault — disk full, I/O error — kept out are answered as to be retried),
 * retention after writing, and the admin API's updates and deletes. It runs in the log writer
 * thread (`log-writer.ts`), or on the request thread for a `:memory:` database, which a second
 * connection cannot share. Whatever it has to say goes through `reply`, in both cases.
 */
export class LogWriter {
  private readonly insertLog: Statement;
  private readonly deleteLog: Statement;
  private readonly insertPayload: Statement;
  private readonly metadata: LogMetadataRollup;
  private readonly writeRows: (rows: Row[]) => void;
  private readonly pendingPrune = new Map<string, RetentionPolicy>();
  private pruneTimer: Timer | null = null;
  private lastPruneAt = 0;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly reply: (reply: WriterReply) => void,
    /** Minimum time between two automatic retention passes. */
    private readonly pruneIntervalMs: number,
  ) {
    this.insertLog = db.prepare(INSERT_LOG_SQL);
    this.deleteLog = db.prepare(DELETE_LOG_SQL);
    this.insertPayload = db.prepare(INSERT_PAYLOAD_SQL);
    // The per-hour metadata rollup the analytics API groups by (log-metadata.ts): fed once per batch,
    // in the batch's transaction, where a trigger would cost every insert a statement journal.
    const metadata = (this.metadata = new LogMetadataRollup(db));
    const write = db.transaction((rows: Row[]) => {
      metadata.begin();
      let replaced = false;
      // `run(values)`, not `run(...values)`: spreading 32 values per row measured ~2 µs per record more.
      for (const [log, payload] of rows) {
        let { changes, lastInsertRowid } = this.insertLog.run(log);
        if (changes === 0) {
          // Stored before: the latest version wins, and the delete triggers take the old one out.
          this.deleteLog.run(log[0]);
          ({ lastInsertRowid } = this.insertLog.run(log));
          replaced = true;
        }
        if (payload) {
          payload[0] = lastInsertRowid;
          this.insertPayload.run(payload);
        }
      }
      metadata.fold(replaced ? undefined : rows.map(([log]) => log));
    });
    // IMMEDIATE: take the write lock up front, so waiting for another writer goes through busy_timeout.
    this.writeRows = (rows) => write.immediate(rows);
  }

  /** Carries out one request and answers it. Never throws. */
  handle(request: Exclude<WriterRequest, { kind: "open" }>): void {
    try {
      this.reply({ kind: "done", seq: request.seq, ...this.run(request) });
    } catch (error) {
      this.reply({ kind: "failed", seq: request.seq, error: serializeError(error) });
    }
  }

  private run(request: Exclude<WriterRequest, { kind: "open" }>): Outcome {
    if (this.closed) throw new Error("the log writer is closed");
    switch (request.kind) {
      case "batch":
        return this.writeBatch(request);
      case "exec":
        return { value: this.db.run(request.sql, request.params).changes };
      case "prune":
        return { value: this.prune(request.gatewayId, request.policy) };
      case "close":
        this.closed = true;
        if (this.pruneTimer) clearTimeout(this.pruneTimer);
        this.pruneTimer = null;
        return { value: 0 };
    }
  }

  private writeBatch(batch: BatchRequest): Outcome {
    const decoded = decodeBatch(batch);
    const indexes = batch.only ?? decoded.map((_, i) => i);
    const rows = batch.only ? batch.only.map((i) => decoded[i]) : decoded;
    const outcome: BatchOutcome = { value: rows.length, transactions: 1, retry: [] };
    try {
      this.writeRows(rows);
    } catch (error) {
      if (isStorageFault(error)) {
        // The file, not the records: one by one would fail the same way, once per record.
        outcome.value = outcome.transactions = 0;
        outcome.retry = indexes;
        outcome.error = serializeError(error);
      } else {
        this.writeOneByOne(rows, indexes, outcome, error);
      }
    }
    for (const [id, policy] of batch.retention) this.pendingPrune.set(id, policy);
    this.maybePrune();
    return outcome.retry.length > 0 ? outcome : { value: outcome.value, transactions: outcome.transactions };
  }

  /** After a batch the database refused: each record in its own transaction, so one bad record costs only itself. */
  private writeOneByOne(rows: Row[], indexes: number[], outcome: BatchOutcome, cause: unknown): void {
    this.reply({ kind: "error", message: `writing ${rows.length} logs in one transaction failed; retrying them one by one`, error: serializeError(cause) });
    outcome.value = outcome.transactions = 0;
    rows.forEach((row, i) => {
      try {
        this.writeRows([row]);
        outcome.value++;
        outcome.transactions++;
      } catch (error) {
        if (isStorageFault(error)) {
          outcome.retry.push(indexes[i]);
          outcome.error = serializeError(error);
          return;
        }
        const logId = String(row[0][0]);
        this.reply({ kind: "error", message: `log ${logId} could not be stored`, error: serializeError(error), logId });
      }
    });
  }

  private maybePrune(): void {
    if (this.pendingPrune.size === 0 || this.pruneTimer) return;
    const wait = this.lastPruneAt + this.pruneIntervalMs - Date.now();
    if (wait <= 0) return this.prunePending();
    this.pruneTimer = setTimeout(() => {
      this.pruneTimer = null;
      this.prunePending();
    }, wait);
    this.pruneTimer.unref();
  }

  private prunePending(): void {
    if (this.closed) return;
    this.lastPruneAt = Date.now();
    const pending = [...this.pendingPrune];
    this.pendingPrune.clear();
    for (const [id, policy] of pending) {
      try {
        this.prune(id, policy);
      } catch (error) {
        const during = isStorageFault(error) ? "applying log retention" : undefined;
        this.reply({ kind: "error", message: `applying log retention to gateway "${id}" failed`, error: serializeError(error), during });
      }
    }
  }

  /**
   * Oldest first: everything past `maxAgeDays`, then everything beyond the newest `maxRows`. Through
   * `deleteLogs`, which keeps the metadata rollup in one pass per prune rather than per log.
   */
  private prune(gatewayId: string, policy: RetentionPolicy): number {
    const run = this.db.transaction(() => {
      let deleted = 0;
      if (policy.maxAgeDays !== undefined) {
        const cutoff = Date.now() - policy.maxAgeDays * DAY_MS;
        deleted += this.metadata.deleteLogs("gateway_id = ? AND created_at < ?", [gatewayId, cutoff]);
      }
      if (policy.maxRows !== undefined) {
        const oldestKept = this.db
          .query<{ created_at: number; rowid: number }, [string, number]>(
            "SELECT created_at, rowid FROM logs WHERE gateway_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1 OFFSET ?",
          )
          .get(gatewayId, policy.maxRows - 1);
        if (oldestKept) {
          deleted += this.metadata.deleteLogs("gateway_id = ? AND (created_at < ? OR (created_at = ? AND rowid < ?))", [
            gatewayId,
            oldestKept.created_at,
            oldestKept.created_at,
            oldestKept.rowid,
          ]);
        }
      }
      return deleted;
    });
    return run.immediate();
  }
}
