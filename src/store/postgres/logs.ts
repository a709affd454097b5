import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import type { RequestRecord } from "../../pipeline/record.ts";
import type { Health, Logger } from "../../pipeline/types.ts";
import { consoleHealth } from "../../server/health.ts";
import type { Analytics, AnalyticsQuery, LogDeleteOptions, LogDetail, LogFilter, LogPatch, LogQuery, LogRow, LogStore, RetentionPolicy } from "../types.ts";
import type { PostgresDatabase } from "./db.ts";
import { isUnavailable } from "./errors.ts";
import { logAnalytics } from "./log-analytics.ts";
import { mergeMetadata, type MetadataPair } from "./log-patch.ts";
import { pruneGateway, RetentionScheduler } from "./log-retention.ts";
import { encodeLog, ROW_COLUMNS, toLogDetail, toLogRow, type StoredLog, type StoredLogDetail } from "./log-rows.ts";
import { orderSql, Params, whereSql } from "./log-sql.ts";
import { PostgresLogWriter, type LogStoreStats } from "./log-writer.ts";

export type { LogStoreStats } from "./log-writer.ts";

export interface PostgresLogStoreOptions {
  logger: Logger;
  /** Where PostgreSQL faults are reported, as component `"logs"`. @default `consoleHealth()` */
  health?: Health;
  /** The retention policy of a gateway; the store prunes the gateways it wrote to, at most once per `pruneIntervalMs`. */
  retention?: (gatewayId: string) => RetentionPolicy | undefined;
  /** Records held in memory at most while PostgreSQL is away or behind (`config.storage.logBuffer`); more are dropped and counted. @default 10000 */
  logBuffer?: number;
  /** Bytes (roughly: bodies and text) held in memory at most. @default 67108864 (64 MiB) */
  maxBufferBytes?: number;
  /** How long a record may wait in the queue before its batch is written. @default 50 */
  flushIntervalMs?: number;
  /** Records per batch statement, and the queue length that starts one at once. @default 500 */
  batchSize?: number;
  /** Minimum time between two automatic retention passes. @default 5000 */
  pruneIntervalMs?: number;
  /** Backoff after PostgreSQL failed: first wait, doubled up to the second. @default { minDelayMs: 250, maxDelayMs: 10000 } */
  retry?: { minDelayMs?: number; maxDelayMs?: number };
  /** Deadline of one batch statement; past it PostgreSQL counts as away and the batch is retried. @default 5000 */
  writeTimeoutMs?: number;
  /** How long `close()` keeps trying to write what is held (without progress) before counting it lost. @default 5000 */
  closeTimeoutMs?: number;
  /** Close the database in `close()`. Pass false when other stores share it. @default true */
  closeDatabase?: boolean;
}

/** A PostgreSQL failure as the admin API answers it: 503 StorageUnavailable; anything else as it is. */
function unavailable(error: unknown): unknown {
  if (!isUnavailable(error)) return error;
  return new GatewayError(503, ErrorCode.StorageUnavailable, "The log store (PostgreSQL) is not available; try again shortly", { cause: error });
}

const bodyView = (body: Uint8Array | null) => (body === null ? null : new Uint8Array(body.buffer, body.byteOffset, body.byteLength));

/**
 * The `LogStore` of a scale-out deployment: logs live in PostgreSQL, shared by every replica, and
 * every read answers exactly as `SqliteLogStore` would for the same logs.
 *
 * `append` only encodes and queues (see `PostgresLogWriter`): batches are written off the request path,
 * one statement each. When PostgreSQL is away, records stay in memory up to `logBuffer` (the overflow is
 * dropped, counted in `stats.dropped` and reported to `health`), retried with backoff and written once
 * it is back, without a restart; `flush()` then gives up after `db.timeoutMs` without progress instead of
 * hanging, and `retrying` says how many records wait. Reads flush first (bounded), then query with the
 * pool's `queryTimeoutMs`; a PostgreSQL that is away makes them fail with 503 StorageUnavailable.
 *
 * @example
 * const db = await openPostgres(config.storage.postgres, { timeoutMs: config.storage.timeout });
 * const logs = new PostgresLogStore(db, { logger, health, logBuffer: config.storage.logBuffer, retention: (id) => config.gateways.get(id)?.logs, closeDatabase: false });
 */
export class PostgresLogStore implements LogStore {
  readonly stats: LogStoreStats = { batches: 0, written: 0, dropped: 0 };
  private readonly writer: PostgresLogWriter;
  private readonly retention: RetentionScheduler;
  private readonly health: Health;
  private closed = false;

  constructor(
    private readonly db: PostgresDatabase,
    private readonly options: PostgresLogStoreOptions,
  ) {
    this.health = options.health ?? consoleHealth();
    this.retention = new RetentionScheduler(db, {
      retention: options.retention,
      intervalMs: options.pruneIntervalMs ?? 5000,
      timeoutMs: options.writeTimeoutMs ?? 5000,
      logger: options.logger,
      health: this.health,
    });
    this.writer = new PostgresLogWriter(db, {
      logger: options.logger,
      health: this.health,
      stats: this.stats,
      onWritten: (ids) => this.retention.written(ids),
      limits: {
        maxRecords: options.logBuffer ?? 10_000,
        maxBytes: options.maxBufferBytes ?? 64 * 1024 * 1024,
        batchSize: options.batchSize ?? 500,
        maxBatchBytes: 8 * 1024 * 1024,
        flushIntervalMs: options.flushIntervalMs ?? 50,
        minRetryMs: options.retry?.minDelayMs ?? 250,
        maxRetryMs: options.retry?.maxDelayMs ?? 10_000,
        timeoutMs: db.timeoutMs,
        writeTimeoutMs: options.writeTimeoutMs ?? 5000,
      },
    });
  }

  append(record: RequestRecord): void {
    if (!record.collectLog) return;
    if (this.closed) {
      this.stats.dropped++;
      this.options.logger.warn(`log ${record.logId} arrived after the log store closed; not stored`);
      return;
    }
    let encoded;
    try {
      encoded = encodeLog(record);
    } catch (error) {
      this.stats.dropped++;
      this.options.logger.error(`log ${record.logId} could not be stored`, error);
      return;
    }
    if (!this.writer.add(encoded)) this.stats.dropped++;
  }

  /** Records held because PostgreSQL is away, waiting for the next try. */
  get retrying(): number {
    return this.writer.retrying;
  }

  /** Records in memory not yet written: queued, being written, or held. */
  get buffered(): number {
    return this.writer.buffered;
  }

  /**
   * Resolves once everything appended before the call is committed; when PostgreSQL is away, as soon
   * as a write fails or after `db.timeoutMs` without progress, with the records still held.
   */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  async list(gatewayId: string, query: LogQuery): Promise<{ rows: LogRow[]; total: number }> {
    const params = new Params();
    const where = whereSql(gatewayId, query.filters, params, query.search);
    const order = orderSql(query.orderBy, query.direction);
    await this.flush();
    const countSql = `SELECT count(*) AS n FROM logs WHERE ${where}`;
    const limit = params.add(query.perPage);
    const offset = params.add((query.page - 1) * query.perPage);
    const rowsSql = `SELECT ${ROW_COLUMNS} FROM logs WHERE ${where} ${order} LIMIT ${limit}::int8 OFFSET ${offset}::int8`;
    const countParams = params.values.slice(0, -2);
    const [counted, rows] = await this.read("listing logs", (sql) =>
      Promise.all([sql.unsafe<{ n: string }[]>(countSql, countParams), sql.unsafe<StoredLog[]>(rowsSql, params.values)]),
    );
    return { rows: rows.map(toLogRow), total: Number(counted[0]?.n ?? 0) };
  }

  async get(gatewayId: string, id: string): Promise<LogDetail | null> {
    await this.flush();
    const [row] = await this.read(
      "reading a log",
      (sql) => sql<StoredLogDetail[]>`SELECT ${sql.unsafe(ROW_COLUMNS)}, logs.attempts, p.id IS NOT NULL AS has_payload, p.request_head, p.response_head,
        p.request_truncated, p.response_truncated
      FROM logs LEFT JOIN log_payloads p ON p.id = logs.id WHERE logs.gateway_id = ${gatewayId} AND logs.id = ${id}`,
    );
    return row ? toLogDetail(row) : null;
  }

  async payload(gatewayId: string, id: string, side: "request" | "response"): Promise<{ contentType: string | null; body: Uint8Array | null } | null> {
    await this.flush();
    type Row = { contentType: string | null; body: Uint8Array | null };
    const [row] = await this.read("reading a payload", (sql) =>
      side === "request"
        ? sql<Row[]>`SELECT logs.request_content_type AS "contentType", p.request_body AS body
            FROM logs LEFT JOIN log_payloads p ON p.id = logs.id WHERE logs.gateway_id = ${gatewayId} AND logs.id = ${id}`
        : sql<Row[]>`SELECT logs.response_content_type AS "contentType", p.response_body AS body
            FROM logs LEFT JOIN log_payloads p ON p.id = logs.id WHERE logs.gateway_id = ${gatewayId} AND logs.id = ${id}`,
    );
    return row ? { contentType: row.contentType, body: bodyView(row.body) } : null;
  }

  async patch(gatewayId: string, id: string, patch: LogPatch): Promise<boolean> {
    await this.flush();
    return this.read("updating a log", (sql) =>
      sql.begin(async (tx) => {
        const [row] = await tx<{ metadata_text: string | null }[]>`SELECT metadata_text FROM logs WHERE gateway_id = ${gatewayId} AND id = ${id} FOR UPDATE`;
        if (!row) return false;
        if (patch.feedback !== undefined) await tx`UPDATE logs SET feedback = ${patch.feedback} WHERE id = ${id}`;
        if (patch.score !== undefined) await tx`UPDATE logs SET score = ${patch.score} WHERE id = ${id}`;
        if (patch.metadata === null) await tx`UPDATE logs SET metadata_text = NULL WHERE id = ${id}`;
        else if (patch.metadata !== undefined) {
          // json (not jsonb) keeps the stored text's key order, which the merge keeps too.
          const pairs = row.metadata_text === null ? [] : await tx<MetadataPair[]>`SELECT key, value::text AS value FROM json_each(${row.metadata_text}::text::json)`;
          await tx`UPDATE logs SET metadata_text = ${mergeMetadata(pairs, patch.metadata)} WHERE id = ${id}`;
        }
        return true;
      }),
    );
  }

  async delete(gatewayId: string, filters: LogFilter[], options: LogDeleteOptions = {}): Promise<number> {
    const params = new Params();
    const where = whereSql(gatewayId, filters, params);
    let sql = `DELETE FROM logs WHERE ${where}`;
    if (options.limit !== undefined) {
      const order = orderSql(options.orderBy ?? "created_at", options.direction ?? "asc");
      sql = `DELETE FROM logs WHERE id IN (SELECT logs.id FROM logs WHERE ${where} ${order} LIMIT ${params.add(options.limit)}::int8)`;
    }
    await this.flush();
    const result = await this.read("deleting logs", (pg) => pg.unsafe(sql, params.values));
    return result.count;
  }

  async prune(gatewayId: string, policy: RetentionPolicy): Promise<number> {
    await this.flush();
    return this.read("applying log retention", () => pruneGateway(this.db, gatewayId, policy, true));
  }

  /** Applies each gateway's retention policy now, e.g. at start-up: `await store.pruneAll(config.gateways.keys())`. */
  async pruneAll(gatewayIds: Iterable<string>): Promise<number> {
    let deleted = 0;
    for (const id of gatewayIds) {
      const policy = this.options.retention?.(id);
      if (policy) deleted += await this.prune(id, policy);
    }
    return deleted;
  }

  async analytics(gatewayId: string, query: AnalyticsQuery): Promise<Analytics> {
    await this.flush();
    return this.read("reading analytics", () => logAnalytics(this.db, gatewayId, query));
  }

  /** Writes what is queued (trying for up to `closeTimeoutMs` without progress); what PostgreSQL still refuses is lost, and logged. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.retention.close();
    const lost = await this.writer.close(this.options.closeTimeoutMs ?? 5000);
    if (lost > 0) this.options.logger.error(`${lost} log${lost === 1 ? "" : "s"} could not be written to PostgreSQL before closing; lost`);
    if (this.options.closeDatabase ?? true) await this.db.close();
  }

  /** One admin read or write, bounded by the pool's `queryTimeoutMs`; PostgreSQL away → 503. */
  private async read<T>(during: string, query: (sql: PostgresDatabase["sql"]) => PromiseLike<T>): Promise<T> {
    if (this.closed) throw new Error("the log store is closed");
    try {
      return await this.db.run(query, during);
    } catch (error) {
      throw unavailable(error);
    }
  }
}
