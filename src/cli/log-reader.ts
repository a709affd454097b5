import { Database, type SQLQueryBindings } from "bun:sqlite";
import { existsSync } from "node:fs";
import type { ResolvedBudget, ResolvedConfig } from "../config/defaults.ts";
import { openPostgres } from "../store/postgres/db.ts";
import { PostgresLogReader } from "../store/postgres/log-reads.ts";
import { LOG_MIGRATIONS, ROW_COLUMNS, toLogRow, type StoredLog } from "../store/sqlite/log-rows.ts";
import { whereSql } from "../store/sqlite/log-sql.ts";
import type { LogFilter, LogRow } from "../store/types.ts";

/** How long a read waits while the gateway's writer holds a lock (a checkpoint) before failing. */
const BUSY_TIMEOUT_MS = 5000;

/** Totals of one gateway's logs in a time window. Tokens and cost count only the logs that carry them. */
export interface LogTotals {
  requests: number;
  errors: number;
  cached: number;
  tokens_in: number;
  tokens_out: number;
  cost: number;
  /** Nearest-rank percentiles of `duration` in ms; null without logs. */
  duration_p50: number | null;
  duration_p95: number | null;
}

export interface ModelTotals {
  provider: string;
  model: string | null;
  requests: number;
  tokens_in: number;
  tokens_out: number;
  cost: number;
}

/** A listed log and its insertion sequence (SQLite's rowid, PostgreSQL's `seq`), the cursor of `--follow`. */
export interface SequencedLog {
  seq: number;
  row: LogRow;
}

/**
 * The CLI's read-only view of a gateway's logs, for `stats` and `logs`: in the config's SQLite file, or
 * in PostgreSQL when `storage.postgres` is set (src/store/postgres/log-reads.ts). Both answer the same
 * for the same logs. Open one with {@link openLogReader}; `close()` when done.
 */
export interface LogReader {
  /** There is no logs table yet (a SQLite file whose gateway never stored a log): every answer is empty. */
  readonly empty: boolean;
  /** Totals of `gatewayId`'s logs created in [start, end]. */
  totals(gatewayId: string, start: number, end: number): Promise<LogTotals>;
  /** The `limit` models (by provider) with the most logs in [start, end], most first. */
  topModels(gatewayId: string, start: number, end: number, limit: number): Promise<ModelTotals[]>;
  /** The newest `limit` logs matching `filters`, oldest of them first. */
  recent(gatewayId: string, filters: LogFilter[], limit: number): Promise<SequencedLog[]>;
  /** Logs matching `filters` stored after the one with sequence `seq`, in the order they were stored. */
  after(gatewayId: string, filters: LogFilter[], seq: number, limit: number): Promise<SequencedLog[]>;
  /** What each bucket of a budget rule spent in [start, end), from the logs (see `SqliteLogReader.spend`). */
  spend(gatewayId: string, rule: ResolvedBudget, start: number, end: number): Promise<{ bucket: string; spent: number }[]>;
  close(): Promise<void>;
}

/**
 * The reader of the config's log storage: PostgreSQL when `storage.postgres` is set (opening it
 * migrates the schema, as every command that opens the store does), else the SQLite file, read-only.
 */
export async function openLogReader(config: ResolvedConfig): Promise<LogReader> {
  if (config.storage.postgres) return new PostgresLogReader(await openPostgres(config.storage.postgres, { timeoutMs: config.storage.timeout }));
  return SqliteLogReader.open(config);
}

/**
 * The logs in the config's SQLite file. It opens the file read-only and never migrates, sets a pragma
 * that persists, or creates anything, so it is safe next to a running gateway: WAL lets it read while
 * the gateway's writer thread commits. The SQL is its own rather than `SqliteLogStore`'s, which would
 * migrate the file and start a writer thread.
 */
export class SqliteLogReader implements LogReader {
  private readonly db: Database | null;

  private constructor(db: Database | null) {
    this.db = db;
  }

  /** Opens the config's log database; fails with what to do when there is none to read. */
  static open(config: ResolvedConfig): SqliteLogReader {
    const path = config.storage.sqlite;
    if (path === ":memory:") throw new Error('storage.sqlite is ":memory:": the logs live only inside the running gateway; read them through its admin API');
    if (!existsSync(path)) throw new Error(`No log database at ${path}; the gateway creates it when it first starts`);
    const db = new Database(path, { readonly: true, strict: true });
    try {
      db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const hasBookkeeping = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'").get() !== null;
      const version = hasBookkeeping ? (db.query<{ version: number }, [string]>("SELECT version FROM schema_versions WHERE concern = ?").get("logs")?.version ?? 0) : 0;
      if (version > LOG_MIGRATIONS.length) {
        throw new Error(`${path} holds logs in a newer layout (version ${version}; this binary knows ${LOG_MIGRATIONS.length}); use a newer switchboard`);
      }
      // A file whose gateway never stored a log has no logs table yet: read it as empty.
      if (version === 0) {
        db.close();
        return new SqliteLogReader(null);
      }
      return new SqliteLogReader(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async totals(gatewayId: string, start: number, end: number): Promise<LogTotals> {
    const empty: LogTotals = { requests: 0, errors: 0, cached: 0, tokens_in: 0, tokens_out: 0, cost: 0, duration_p50: null, duration_p95: null };
    if (!this.db) return empty;
    const window: [string, number, number] = [gatewayId, start, end];
    const sums = this.db
      .query<Omit<LogTotals, "duration_p50" | "duration_p95">, [string, number, number]>(
        `SELECT COUNT(*) AS requests, COALESCE(SUM(success = 0), 0) AS errors, COALESCE(SUM(cached), 0) AS cached,
          COALESCE(SUM(tokens_in), 0) AS tokens_in, COALESCE(SUM(tokens_out), 0) AS tokens_out, COALESCE(SUM(cost), 0) AS cost
        FROM logs WHERE gateway_id = ? AND created_at BETWEEN ? AND ?`,
      )
      .get(...window)!;
    const nth = this.db.query<{ duration: number }, [string, number, number, number]>(
      "SELECT duration FROM logs WHERE gateway_id = ? AND created_at BETWEEN ? AND ? ORDER BY duration LIMIT 1 OFFSET ?",
    );
    // Nearest rank: the smallest duration with at least p of the logs at or below it.
    const percentile = (p: number) => (sums.requests === 0 ? null : (nth.get(...window, Math.ceil(p * sums.requests) - 1)?.duration ?? null));
    return { ...sums, duration_p50: percentile(0.5), duration_p95: percentile(0.95) };
  }

  async topModels(gatewayId: string, start: number, end: number, limit: number): Promise<ModelTotals[]> {
    if (!this.db) return [];
    return this.db
      .query<ModelTotals, [string, number, number, number]>(
        `SELECT provider, model, COUNT(*) AS requests, COALESCE(SUM(tokens_in), 0) AS tokens_in,
          COALESCE(SUM(tokens_out), 0) AS tokens_out, COALESCE(SUM(cost), 0) AS cost
        FROM logs WHERE gateway_id = ? AND created_at BETWEEN ? AND ?
        GROUP BY provider, model ORDER BY requests DESC, cost DESC, provider, model LIMIT ?`,
      )
      .all(gatewayId, start, end, limit);
  }

  async recent(gatewayId: string, filters: LogFilter[], limit: number): Promise<SequencedLog[]> {
    if (!this.db) return [];
    const where = whereSql(gatewayId, filters);
    const rows = this.db
      .query<StoredLog & { seq: number }, SQLQueryBindings[]>(`SELECT logs.rowid AS seq, ${ROW_COLUMNS} FROM logs WHERE ${where.sql} ORDER BY logs.rowid DESC LIMIT ?`)
      .all(...where.params, limit);
    return rows.reverse().map((row) => ({ seq: row.seq, row: toLogRow(row) }));
  }

  /**
   * Logs matching `filters` stored after the one with sequence `seq`, in the order they were stored.
   * By insertion order rather than `created_at` (the request's start): a long stream finishing after
   * shorter requests that started later is still shown when it lands.
   */
  async after(gatewayId: string, filters: LogFilter[], seq: number, limit: number): Promise<SequencedLog[]> {
    if (!this.db) return [];
    const where = whereSql(gatewayId, filters);
    const rows = this.db
      .query<StoredLog & { seq: number }, SQLQueryBindings[]>(`SELECT logs.rowid AS seq, ${ROW_COLUMNS} FROM logs WHERE ${where.sql} AND logs.rowid > ? ORDER BY logs.rowid LIMIT ?`)
      .all(...where.params, seq, limit);
    return rows.map((row) => ({ seq: row.seq, row: toLogRow(row) }));
  }

  /**
   * What each bucket of a budget rule spent in [start, end), from the logs: the settled cost (cache
   * hits count 0), grouped by the rule's key — a token id, a metadata value, or a request header (from
   * the stored request heads, so only with payloads logged). Provider and model globs apply as in the plugin.
   */
  async spend(gatewayId: string, rule: ResolvedBudget, start: number, end: number): Promise<{ bucket: string; spent: number }[]> {
    if (!this.db) return [];
    const { bucket, join, params } = bucketSql(rule.key);
    const where: string[] = ["logs.gateway_id = ?", "logs.created_at >= ?", "logs.created_at < ?", `${bucket} IS NOT NULL`];
    const values: SQLQueryBindings[] = [...params, gatewayId, start, end];
    if (rule.provider !== null) {
      where.push("LOWER(logs.provider) GLOB ?");
      values.push(rule.provider.toLowerCase());
    }
    if (rule.model !== null) {
      where.push("logs.model IS NOT NULL AND LOWER(logs.model) GLOB ?");
      values.push(rule.model.toLowerCase());
    }
    return this.db
      .query<{ bucket: string; spent: number }, SQLQueryBindings[]>(
        `SELECT ${bucket} AS bucket, COALESCE(SUM(CASE WHEN logs.cached = 1 THEN 0 ELSE logs.cost END), 0) AS spent
        FROM logs ${join} WHERE ${where.join(" AND ")} GROUP BY 1 ORDER BY spent DESC`,
      )
      .all(...values)
      .map((row) => ({ bucket: String(row.bucket), spent: row.spent }));
  }

  /** Whether there is a logs table yet (a gateway that never stored a log has none). */
  get empty(): boolean {
    return this.db === null;
  }

  async close(): Promise<void> {
    this.db?.close();
  }
}

/** The SQL that labels a log with its bucket under a budget key (`gateway`, `token`, `metadata:k`, `header:x`). */
function bucketSql(key: string): { bucket: string; join: string; params: SQLQueryBindings[] } {
  if (key === "gateway") return { bucket: "'gateway'", join: "", params: [] };
  if (key === "token") return { bucket: "logs.token_id", join: "", params: [] };
  const path = (name: string) => `$."${name.replaceAll('"', '""')}"`;
  if (key.startsWith("metadata:")) return { bucket: "json_extract(logs.metadata, ?)", join: "", params: [path(key.slice("metadata:".length))] };
  return { bucket: "json_extract(p.request_head, ?)", join: "JOIN log_payloads p ON p.id = logs.id", params: [path(key.slice("header:".length))] };
}
