import type { Database, SQLQueryBindings, Statement } from "bun:sqlite";
import type { RequestRecord } from "../../pipeline/record.ts";
import type { Logger } from "../../pipeline/types.ts";
import type { LogDeleteOptions, LogDetail, LogFilter, LogPatch, LogQuery, LogRow, LogStore, RetentionPolicy } from "../types.ts";
import { migrate } from "./db.ts";
import {
  INSERT_LOG_SQL,
  INSERT_PAYLOAD_SQL,
  LOG_MIGRATIONS,
  logParams,
  payloadParams,
  ROW_COLUMNS,
  toLogDetail,
  toLogRow,
  type StoredLog,
  type StoredLogDetail,
} from "./log-rows.ts";
import { orderSql, whereSql } from "./log-sql.ts";

const DAY_MS = 86_400_000;

export interface SqliteLogStoreOptions {
  logger: Logger;
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
}

/** Counters for health checks and tests. */
export interface LogStoreStats {
  /** Transactions that wrote queued records. */
  batches: number;
  /** Records written. */
  written: number;
  /** Records lost because writing them failed (see the logger) or they arrived after `close()`. */
  dropped: number;
}

/**
 * The default `LogStore`: one SQLite file, records queued in memory by `append` and written in one
 * transaction per batch, off the request path. Reads write the queue first, so a log is visible as
 * soon as the request that produced it has completed.
 *
 * @example
 * const logs = new SqliteLogStore(openDatabase(config.storage.sqlite), {
 *   logger,
 *   retention: (id) => config.gateways.get(id)?.logs,
 * });
 */
export class SqliteLogStore implements LogStore {
  readonly stats: LogStoreStats = { batches: 0, written: 0, dropped: 0 };
  private queue: RequestRecord[] = [];
  private timer: Timer | null = null;
  private pruneTimer: Timer | null = null;
  private lastPruneAt = 0;
  private readonly pendingPrune = new Set<string>();
  private closed = false;
  private readonly insertLog: Statement;
  private readonly insertPayload: Statement;
  private readonly writeBatch: (records: RequestRecord[]) => void;
  private readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private readonly pruneIntervalMs: number;

  constructor(
    private readonly db: Database,
    private readonly options: SqliteLogStoreOptions,
  ) {
    migrate(db, "logs", LOG_MIGRATIONS);
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
    this.batchSize = options.batchSize ?? 256;
    this.pruneIntervalMs = options.pruneIntervalMs ?? 5000;
    this.insertLog = db.prepare(INSERT_LOG_SQL);
    this.insertPayload = db.prepare(INSERT_PAYLOAD_SQL);
    this.writeBatch = db.transaction((records: RequestRecord[]) => {
      for (const record of records) this.insertOne(record);
    });
  }

  append(record: RequestRecord): void {
    if (!record.collectLog) return;
    if (this.closed) {
      this.stats.dropped++;
      this.options.logger.warn(`log ${record.logId} arrived after the log store closed; not stored`);
      return;
    }
    this.queue.push(record);
    if (this.queue.length >= this.batchSize) this.schedule(0);
    else if (!this.timer) this.schedule(this.flushIntervalMs);
  }

  async flush(): Promise<void> {
    this.writeQueue();
  }

  list(gatewayId: string, query: LogQuery): { rows: LogRow[]; total: number } {
    this.writeQueue();
    const where = whereSql(gatewayId, query.filters, query.search);
    const order = orderSql(query.orderBy, query.direction);
    const total = this.db.query<{ n: number }, SQLQueryBindings[]>(`SELECT COUNT(*) AS n FROM logs WHERE ${where.sql}`).get(...where.params)?.n ?? 0;
    const rows = this.db
      .query<StoredLog, SQLQueryBindings[]>(`SELECT ${ROW_COLUMNS} FROM logs WHERE ${where.sql} ${order} LIMIT ? OFFSET ?`)
      .all(...where.params, query.perPage, (query.page - 1) * query.perPage);
    return { rows: rows.map(toLogRow), total };
  }

  get(gatewayId: string, id: string): LogDetail | null {
    this.writeQueue();
    const row = this.db
      .query<StoredLogDetail, [string, string]>(
        `SELECT ${ROW_COLUMNS}, logs.attempts, p.id IS NOT NULL AS has_payload, p.request_head, p.response_head,
          p.request_truncated, p.response_truncated
        FROM logs LEFT JOIN log_payloads p ON p.id = logs.id WHERE logs.gateway_id = ? AND logs.id = ?`,
      )
      .get(gatewayId, id);
    return row ? toLogDetail(row) : null;
  }

  payload(gatewayId: string, id: string, side: "request" | "response"): { contentType: string | null; body: Uint8Array | null } | null {
    this.writeQueue();
    const row = this.db
      .query<{ contentType: string | null; body: Uint8Array | null }, [string, string]>(
        `SELECT logs.${side}_content_type AS contentType, p.${side}_body AS body
        FROM logs LEFT JOIN log_payloads p ON p.id = logs.id WHERE logs.gateway_id = ? AND logs.id = ?`,
      )
      .get(gatewayId, id);
    return row ? { contentType: row.contentType, body: row.body } : null;
  }

  patch(gatewayId: string, id: string, patch: LogPatch): boolean {
    this.writeQueue();
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
    const exists = this.db.query<{ id: string }, [string, string]>("SELECT id FROM logs WHERE gateway_id = ? AND id = ?");
    if (sets.length === 0) return exists.get(gatewayId, id) !== null;
    const result = this.db.run(`UPDATE logs SET ${sets.join(", ")} WHERE gateway_id = ? AND id = ?`, [...params, gatewayId, id]);
    return result.changes > 0;
  }

  delete(gatewayId: string, filters: LogFilter[], options: LogDeleteOptions = {}): number {
    this.writeQueue();
    const where = whereSql(gatewayId, filters);
    if (options.limit === undefined) return this.db.run(`DELETE FROM logs WHERE ${where.sql}`, where.params).changes;
    const order = orderSql(options.orderBy ?? "created_at", options.direction ?? "asc");
    const sql = `DELETE FROM logs WHERE id IN (SELECT logs.id FROM logs WHERE ${where.sql} ${order} LIMIT ?)`;
    return this.db.run(sql, [...where.params, options.limit]).changes;
  }

  prune(gatewayId: string, policy: RetentionPolicy): number {
    this.writeQueue();
    return this.pruneNow(gatewayId, policy);
  }

  /** Applies each gateway's retention policy now, e.g. at start-up: `store.pruneAll(config.gateways.keys())`. */
  pruneAll(gatewayIds: Iterable<string>): number {
    let deleted = 0;
    for (const id of gatewayIds) {
      const policy = this.options.retention?.(id);
      if (policy) deleted += this.prune(id, policy);
    }
    return deleted;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.writeQueue();
    this.closed = true;
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.pruneTimer = null;
    if (this.options.closeDatabase ?? true) this.db.close();
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.writeQueue(), delayMs);
    this.timer.unref();
  }

  /** Writes everything queued in one transaction. Never throws: a failure is logged and the process lives on. */
  private writeQueue(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length === 0 || this.closed) return;
    const batch = this.queue;
    this.queue = [];
    try {
      this.writeBatch(batch);
      this.stats.batches++;
      this.stats.written += batch.length;
    } catch (error) {
      this.options.logger.error(`writing ${batch.length} logs in one transaction failed; retrying them one by one`, error);
      this.writeOneByOne(batch);
    }
    for (const record of batch) this.pendingPrune.add(record.gatewayId);
    this.maybePrune();
  }

  private writeOneByOne(batch: RequestRecord[]): void {
    for (const record of batch) {
      try {
        this.writeBatch([record]);
        this.stats.batches++;
        this.stats.written++;
      } catch (error) {
        this.stats.dropped++;
        this.options.logger.error(`log ${record.logId} could not be stored`, error);
      }
    }
  }

  private insertOne(record: RequestRecord): void {
    this.insertLog.run(...logParams(record));
    if (record.collectPayload) this.insertPayload.run(...payloadParams(record));
  }

  private maybePrune(): void {
    if (!this.options.retention || this.pendingPrune.size === 0 || this.pruneTimer) return;
    const wait = this.lastPruneAt + this.pruneIntervalMs - Date.now();
    if (wait <= 0) return this.prunePending();
    this.pruneTimer = setTimeout(() => {
      this.pruneTimer = null;
      this.writeQueue();
      this.prunePending();
    }, wait);
    this.pruneTimer.unref();
  }

  private prunePending(): void {
    if (this.closed) return;
    this.lastPruneAt = Date.now();
    const ids = [...this.pendingPrune];
    this.pendingPrune.clear();
    for (const id of ids) {
      const policy = this.options.retention?.(id);
      if (!policy) continue;
      try {
        this.pruneNow(id, policy);
      } catch (error) {
        this.options.logger.error(`applying log retention to gateway "${id}" failed`, error);
      }
    }
  }

  /** Oldest first: everything past `maxAgeDays`, then everything beyond the newest `maxRows`. */
  private pruneNow(gatewayId: string, policy: RetentionPolicy): number {
    const run = this.db.transaction(() => {
      let deleted = 0;
      if (policy.maxAgeDays !== undefined) {
        const cutoff = Date.now() - policy.maxAgeDays * DAY_MS;
        deleted += this.db.run("DELETE FROM logs WHERE gateway_id = ? AND created_at < ?", [gatewayId, cutoff]).changes;
      }
      if (policy.maxRows !== undefined) {
        const oldestKept = this.db
          .query<{ created_at: number; rowid: number }, [string, number]>(
            "SELECT created_at, rowid FROM logs WHERE gateway_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1 OFFSET ?",
          )
          .get(gatewayId, policy.maxRows - 1);
        if (oldestKept) {
          deleted += this.db.run("DELETE FROM logs WHERE gateway_id = ? AND (created_at < ? OR (created_at = ? AND rowid < ?))", [
            gatewayId,
            oldestKept.created_at,
            oldestKept.created_at,
            oldestKept.rowid,
          ]).changes;
        }
      }
      return deleted;
    });
    return run.immediate();
  }
}
