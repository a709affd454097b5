import type { LogReader, LogTotals, ModelTotals, SequencedLog } from "../../cli/log-reader.ts";
import type { ResolvedBudget } from "../../config/defaults.ts";
import type { LogFilter } from "../types.ts";
import type { PostgresDatabase } from "./db.ts";
import { ROW_COLUMNS, toLogRow, type StoredLog } from "./log-rows.ts";
import { Params, whereSql } from "./log-sql.ts";

/**
 * How long a log may take to become visible after a later one did: logs are numbered (`seq`) when their
 * batch is inserted and seen when it commits, and two replicas commit in either order. `--follow` looks
 * back this far, so a batch that committed late is still printed, once.
 */
const FOLLOW_LAG_MS = 5000;

/** Bucket of a budget rule's key: the SQL and its bound value (never spliced). */
function bucketSql(key: string, params: Params): { bucket: string; join: string } {
  if (key === "gateway") return { bucket: "'gateway'", join: "" };
  if (key === "token") return { bucket: "logs.token_id", join: "" };
  if (key.startsWith("metadata:")) return { bucket: `(logs.metadata ->> ${params.add(key.slice("metadata:".length))}::text)`, join: "" };
  return { bucket: `(p.request_head::json ->> ${params.add(key.slice("header:".length))}::text)`, join: "JOIN log_payloads p ON p.id = logs.id" };
}

/**
 * A budget glob (`*` any run of characters, `?` one; see plugins/budget) as an anchored PostgreSQL regular
 * expression: every other ASCII punctuation character is escaped, so it matches only itself.
 */
export function globToRegex(glob: string): string {
  let source = "";
  for (const char of glob) {
    if (char === "*") source += ".*";
    else if (char === "?") source += ".";
    else if (/[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/.test(char)) source += `\\${char}`;
    else source += char;
  }
  return `^${source}$`;
}

/**
 * The CLI's view of the logs in PostgreSQL (`switchboard stats` and `logs`), the counterpart of the SQLite
 * `LogReader` in src/cli/log-reader.ts: the same answers over the same logs. Opening migrates the
 * schema (see `openPostgres`), so there is always a logs table; the reader never writes a log.
 */
export class PostgresLogReader implements LogReader {
  readonly empty = false;
  /** `--follow`: every log with `seq <= floor` has been considered; `shown` are the ones printed above it. */
  private floor: number | null = null;
  private readonly shown = new Set<number>();
  /** The newest `seq` seen at each poll, to move `floor` once it is `FOLLOW_LAG_MS` old. */
  private readonly marks: { at: number; max: number }[] = [];

  constructor(private readonly db: PostgresDatabase) {}

  async totals(gatewayId: string, start: number, end: number): Promise<LogTotals> {
    type Row = Record<Exclude<keyof LogTotals, "duration_p50" | "duration_p95" | "cost">, string> & { cost: number; p: number[] | null };
    const [row] = await this.db.run(
      (sql) => sql<Row[]>`SELECT count(*) AS requests, count(*) FILTER (WHERE NOT success) AS errors, count(*) FILTER (WHERE cached) AS cached,
        COALESCE(sum(tokens_in), 0) AS tokens_in, COALESCE(sum(tokens_out), 0) AS tokens_out, COALESCE(sum(cost), 0)::float8 AS cost,
        percentile_disc(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY duration) AS p
      FROM logs WHERE gateway_id = ${gatewayId} AND created_at BETWEEN ${start}::int8 AND ${end}::int8`,
      "reading totals",
    );
    // percentile_disc is nearest rank (row ceil(p · n)), as the SQLite reader's OFFSET is.
    const p = row?.p ? [...row.p] : [null, null];
    return {
      requests: Number(row?.requests ?? 0),
      errors: Number(row?.errors ?? 0),
      cached: Number(row?.cached ?? 0),
      tokens_in: Number(row?.tokens_in ?? 0),
      tokens_out: Number(row?.tokens_out ?? 0),
      cost: row?.cost ?? 0,
      duration_p50: p[0] ?? null,
      duration_p95: p[1] ?? null,
    };
  }

  async topModels(gatewayId: string, start: number, end: number, limit: number): Promise<ModelTotals[]> {
    type Row = Omit<ModelTotals, "requests" | "tokens_in" | "tokens_out"> & { requests: string; tokens_in: string; tokens_out: string };
    const rows = await this.db.run(
      (sql) => sql<Row[]>`SELECT provider, model, count(*) AS requests, COALESCE(sum(tokens_in), 0) AS tokens_in,
        COALESCE(sum(tokens_out), 0) AS tokens_out, COALESCE(sum(cost), 0)::float8 AS cost
      FROM logs WHERE gateway_id = ${gatewayId} AND created_at BETWEEN ${start}::int8 AND ${end}::int8
      GROUP BY provider, model ORDER BY requests DESC, cost DESC, provider, model NULLS FIRST LIMIT ${limit}::int8`,
      "reading top models",
    );
    return rows.map((row) => ({ ...row, requests: Number(row.requests), tokens_in: Number(row.tokens_in), tokens_out: Number(row.tokens_out) }));
  }

  async recent(gatewayId: string, filters: LogFilter[], limit: number): Promise<SequencedLog[]> {
    const params = new Params();
    const where = whereSql(gatewayId, filters, params);
    const sql = `SELECT logs.seq, ${ROW_COLUMNS} FROM logs WHERE ${where} ORDER BY logs.seq DESC LIMIT ${params.add(limit)}::int8`;
    const rows = await this.db.run((pg) => pg.unsafe<(StoredLog & { seq: string })[]>(sql, params.values), "reading logs");
    return rows.reverse().map((row) => ({ seq: Number(row.seq), row: toLogRow(row) }));
  }

  /**
   * Logs matching `filters` that were not shown yet, in the order they were stored. On the first call
   * everything up to `seq` counts as shown; afterwards the reader keeps track itself, looking back
   * `FOLLOW_LAG_MS` for logs numbered before the last one shown but committed after it.
   */
  async after(gatewayId: string, filters: LogFilter[], seq: number, limit: number): Promise<SequencedLog[]> {
    const now = Date.now();
    this.floor ??= seq;
    while (this.marks.length > 0 && now - this.marks[0].at >= FOLLOW_LAG_MS) this.floor = Math.max(this.floor, this.marks.shift()!.max);
    for (const shown of this.shown) if (shown <= this.floor) this.shown.delete(shown);
    const params = new Params();
    const where = whereSql(gatewayId, filters, params);
    const floor = params.add(this.floor);
    const shown = params.add([...this.shown]);
    const sql = `SELECT logs.seq, ${ROW_COLUMNS} FROM logs WHERE ${where} AND logs.seq > ${floor}::int8 AND NOT (logs.seq = ANY(${shown}::int8[]))
      ORDER BY logs.seq LIMIT ${params.add(limit)}::int8`;
    const [rows, newest] = await this.db.run(
      (pg) =>
        Promise.all([
          pg.unsafe<(StoredLog & { seq: string })[]>(sql, params.values),
          pg<{ max: string | null }[]>`SELECT max(seq) AS max FROM logs WHERE gateway_id = ${gatewayId}`,
        ]),
      "following logs",
    );
    this.marks.push({ at: now, max: Number(newest[0]?.max ?? 0) });
    for (const row of rows) this.shown.add(Number(row.seq));
    return rows.map((row) => ({ seq: Number(row.seq), row: toLogRow(row) }));
  }

  async spend(gatewayId: string, rule: ResolvedBudget, start: number, end: number): Promise<{ bucket: string; spent: number }[]> {
    const params = new Params();
    const { bucket, join } = bucketSql(rule.key, params);
    const where = [
      `logs.gateway_id = ${params.add(gatewayId)}::text`,
      `logs.created_at >= ${params.add(start)}::int8`,
      `logs.created_at < ${params.add(end)}::int8`,
      `${bucket} IS NOT NULL`,
    ];
    if (rule.provider !== null) where.push(`lower(logs.provider) ~ ${params.add(globToRegex(rule.provider.toLowerCase()))}::text`);
    if (rule.model !== null) where.push(`logs.model IS NOT NULL AND lower(logs.model) ~ ${params.add(globToRegex(rule.model.toLowerCase()))}::text`);
    const sql = `SELECT ${bucket} AS bucket, COALESCE(sum(CASE WHEN logs.cached THEN 0 ELSE logs.cost END), 0)::float8 AS spent
      FROM logs ${join} WHERE ${where.join(" AND ")} GROUP BY 1 ORDER BY spent DESC`;
    const rows = await this.db.run((pg) => pg.unsafe<{ bucket: string; spent: number }[]>(sql, params.values), "reading budget spend");
    return rows.map((row) => ({ bucket: String(row.bucket), spent: row.spent }));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
