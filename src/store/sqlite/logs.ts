import type { Database, SQLQueryBindings } from "bun:sqlite";
import type { RequestRecord } from "../../pipeline/record.ts";
import type { Health, Logger } from "../../pipeline/types.ts";
import { GatewayHealth } from "../../server/health.ts";
import type { Analytics, AnalyticsQuery, LogDeleteOptions, LogDetail, LogFilter, LogPatch, LogQuery, LogRow, LogStore, RetentionPolicy } from "../types.ts";
import { migrate } from "./db.ts";
import { logAnalytics } from "./log-analytics.ts";
import { LOG_MIGRATIONS, ROW_COLUMNS, toLogDetail, toLogRow, type StoredLog, type StoredLogDetail } from "./log-rows.ts";
import { orderSql, whereSql } from "./log-sql.ts";
import { BatchBuilder } from "./log-messages.ts";
import { DEFAULT_RETRY_LIMITS, type RetryLimits } from "./log-retry.ts";
import { LogWriterThread, type LogStoreStats } from "./log-writer-thread.ts";
import { LOG_METADATA_MIGRATIONS } from "./log-metadata.ts";

export type { LogStoreStats } from "./log-writer-thread.ts";

export interface SqliteLogStoreOptions {
  logger: Logger;
  /** Where storage faults (disk full, I/O errors) are reported, as component `"logs"`. @default a GatewayHealth on `logger` */
  health?: Health;
  /** Bounds and pacing of the records a storage fault holds back for another try. @default DEFAULT_RETRY_LIMITS (10,000 records, 64 MiB, 1 s doubling to 30 s) */
  retry?: Partial<RetryLimits>;
  /**
   * The retention policy of a gateway. After each written batch the store prunes the gateways it
   * wrote to, at most once per `pruneIntervalMs`, so a busy gateway may exceed `maxRows` by a few
   * seconds of traffic.
   */
  retention?: (gatewayId: string) => RetentionPolicy | undefined;
  /** How long a record may wait in the queue before its batch is written. @default 50 */
  flushIntervalMs?: number;
  /** Queue length that triggers a write without waiting for the interval. @default 256 */
  batchSize?: number;
  /** Minimum time between two automatic retention passes. @default 5000 */
  pruneIntervalMs?: number;
  /** Close the database in `close()`. Pass false when other stores share it. @default true */
  closeDatabase?: boolean;
  /**
   * Where batches are written: `"worker"`, a thread with its own connection to the file, so inserts
   * and checkpoints never block requests; `"main"`, this thread's connection. A `:memory:` database
   * is always written on the main thread (no second connection can reach it). @default "worker"
   */
  writer?: "worker" | "main";
  /** The writer thread's entry module (tests use it to make the thread crash). @default the built-in log-writer.ts */
  writerEntry?: string;
}

/**
 * The default `LogStore`: one SQLite file in WAL mode, records queued in memory by `append` and
 * written in one transaction per batch by the log writer thread (log-writer.ts), off the request
 * thread. Reads run here, on this thread's connection, after a flush, so a log is visible as soon
 * as the request that produced it has completed; updates and deletes go through the writer, in order.
 * When the file refuses writes (disk full), records are held back and retried (see `LogWriterThread`);
 * `retrying` says how many wait, `stats.dropped` how many were lost.
 *
 * @example
 * const logs = new SqliteLogStore(openDatabase(config.storage.sqlite), {
 *   logger,
 *   retention: (id) => config.gateways.get(id)?.logs,
 * });
 */
export class SqliteLogStore implements LogStore {
  readonly stats: LogStoreStats = { batches: 0, written: 0, dropped: 0 };
  /** The queue: records are encoded as they arrive (see `BatchBuilder`). */
  private readonly queue = new BatchBuilder();
  private timer: Timer | null = null;
  private closed = false;
  private readonly writer: LogWriterThread;
  private readonly flushIntervalMs: number;
  private readonly batchSize: number;

  constructor(
    private readonly db: Database,
    private readonly options: SqliteLogStoreOptions,
  ) {
    migrate(db, "logs", LOG_MIGRATIONS);
    migrate(db, "log_metadata", LOG_METADATA_MIGRATIONS);
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
    this.batchSize = options.batchSize ?? 256;
    this.writer = new LogWriterThread(db, {
      logger: options.logger,
      health: options.health ?? new GatewayHealth(options.logger),
      retry: { ...DEFAULT_RETRY_LIMITS, ...options.retry },
      stats: this.stats,
      pruneIntervalMs: options.pruneIntervalMs ?? 5000,
      thread: options.writer ?? "worker",
      entry: options.writerEntry,
    });
  }

  append(record: RequestRecord): void {
    if (!record.collectLog) return;
    if (this.closed) {
      this.stats.dropped++;
      this.options.logger.warn(`log ${record.logId} arrived after the log store closed; not stored`);
      return;
    }
    try {
      this.queue.add(record);
    } catch (error) {
      this.stats.dropped++;
      this.options.logger.error(`log ${record.logId} could not be stored`, error);
      return;
    }
    // Once per batch: resetting the timer for every record past the size costs a timer per request under load.
    if (this.queue.size === this.batchSize) this.schedule(0);
    else if (!this.timer) this.schedule(this.flushIntervalMs);
  }

  /** Records a storage fault held back, waiting to be written again. */
  get retrying(): number {
    return this.writer.retrying;
  }

  /**
   * Resolves once everything appended (and every update sent) before the call is committed — or, for
   * records a storage fault held back, queued for another try (a read must not wait for disk space).
   */
  flush(): Promise<void> {
    this.sendQueue();
    return this.writer.idle();
  }

  async list(gatewayId: string, query: LogQuery): Promise<{ rows: LogRow[]; total: number }> {
    const where = whereSql(gatewayId, query.filters, query.search);
    const order = orderSql(query.orderBy, query.direction);
    await this.flush();
    const total = this.db.query<{ n: number }, SQLQueryBindings[]>(`SELECT COUNT(*) AS n FROM logs WHERE ${where.sql}`).get(...where.params)?.n ?? 0;
    const rows = this.db
      .query<StoredLog, SQLQueryBindings[]>(`SELECT ${ROW_COLUMNS} FROM logs WHERE ${where.sql} ${order} LIMIT ? OFFSET ?`)
      .all(...where.params, query.perPage, (query.page - 1) * query.perPage);
    return { rows: rows.map(toLogRow), total };
  }

  async get(gatewayId: string, id: string): Promise<LogDetail | null> {
    await this.flush();
    const row = this.db
      .query<StoredLogDetail, [string, string]>(
        `SELECT ${ROW_COLUMNS}, logs.attempts, p.log_rowid IS NOT NULL AS has_payload, p.request_head, p.response_head,
          p.request_truncated, p.response_truncated
        FROM logs LEFT JOIN log_payloads_by_rowid p ON p.log_rowid = logs.rowid WHERE logs.gateway_id = ? AND logs.id = ?`,
      )
      .get(gatewayId, id);
    return row ? toLogDetail(row) : null;
  }

  async payload(gatewayId: string, id: string, side: "request" | "response"): Promise<{ contentType: string | null; body: Uint8Array | null } | null> {
    await this.flush();
    const row = this.db
      .query<{ contentType: string | null; body: Uint8Array | null }, [string, string]>(
        `SELECT logs.${side}_content_type AS contentType, p.${side}_body AS body
        FROM logs LEFT JOIN log_payloads_by_rowid p ON p.log_rowid = logs.rowid WHERE logs.gateway_id = ? AND logs.id = ?`,
      )
      .get(gatewayId, id);
    return row ? { contentType: row.contentType, body: row.body } : null;
  }

  async patch(gatewayId: string, id: string, patch: LogPatch): Promise<boolean> {
    const sets: string[] = [];
    const params: SQLQueryBindings[] = [];
    const set = (sql: string, ...values: SQLQueryBindings[]) => {
      sets.push(sql);
      params.push(...values);
    };
    if (patch.feedback !== undefined) set("feedback = ?", patch.feedback);
    if (patch.score !== undefined) set("score = ?", patch.score);
    if (patch.metadata === null) set("metadata = NULL");
    // json_patch merges the new keys into what the request carried (RFC 7396).
    else if (patch.metadata !== undefined) set("metadata = json_patch(COALESCE(metadata, '{}'), ?)", JSON.stringify(patch.metadata));
    if (sets.length === 0) {
      await this.flush();
      return this.db.query<{ id: string }, [string, string]>("SELECT id FROM logs WHERE gateway_id = ? AND id = ?").get(gatewayId, id) !== null;
    }
    const sql = `UPDATE logs SET ${sets.join(", ")} WHERE gateway_id = ? AND id = ?`;
    return (await this.write({ kind: "exec", sql, params: [...params, gatewayId, id] })) > 0;
  }

  async delete(gatewayId: string, filters: LogFilter[], options: LogDeleteOptions = {}): Promise<number> {
    const where = whereSql(gatewayId, filters);
    if (options.limit === undefined) return this.write({ kind: "exec", sql: `DELETE FROM logs WHERE ${where.sql}`, params: where.params });
    const order = orderSql(options.orderBy ?? "created_at", options.direction ?? "asc");
    const sql = `DELETE FROM logs WHERE id IN (SELECT logs.id FROM logs WHERE ${where.sql} ${order} LIMIT ?)`;
    return this.write({ kind: "exec", sql, params: [...where.params, options.limit] });
  }

  async analytics(gatewayId: string, query: AnalyticsQuery): Promise<Analytics> {
    await this.flush();
    return logAnalytics(this.db, gatewayId, query);
  }

  prune(gatewayId: string, policy: RetentionPolicy): Promise<number> {
    return this.write({ kind: "prune", gatewayId, policy });
  }

  /** Applies each gateway's retention policy now, e.g. at start-up: `await store.pruneAll(config.gateways.keys())`. */
  async pruneAll(gatewayIds: Iterable<string>): Promise<number> {
    const pruned: Promise<number>[] = [];
    for (const id of gatewayIds) {
      const policy = this.options.retention?.(id);
      if (policy) pruned.push(this.prune(id, policy));
    }
    let deleted = 0;
    for (const n of await Promise.all(pruned)) deleted += n;
    return deleted;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.sendQueue();
    this.closed = true;
    await this.writer.close();
    if (this.options.closeDatabase ?? true) this.db.close();
  }

  /** Sends an update behind everything queued, so it applies to the logs appended before it. */
  private write(request: Parameters<LogWriterThread["request"]>[0]): Promise<number> {
    if (this.closed) return Promise.reject(new Error("the log store is closed"));
    this.sendQueue();
    return this.writer.request(request);
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.sendQueue(), delayMs);
    this.timer.unref();
  }

  /** Hands everything queued to the writer as one batch. */
  private sendQueue(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.size === 0 || this.closed) return;
    const batch = this.queue.take(this.options.retention);
    void this.writer.writeBatch(batch).then(() => this.queue.recycle(batch));
  }
}
