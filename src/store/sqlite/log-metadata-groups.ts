import type { Database, SQLQueryBindings } from "bun:sqlite";
import type { AnalyticsGroup } from "../types.ts";
import { DIMENSION_KEYS, metadataObject, ROLLUP_HOUR_MS, type Dimension } from "./log-metadata.ts";

/** A group's counters before rounding; `key` as SQLite gives it (text, integer or real). */
export type GroupSums = Omit<AnalyticsGroup, "key">;
type Row = GroupSums & { key: string | number };

const SUMS = `COUNT(*) AS requests, COALESCE(SUM(l.success = 0), 0) AS errors, COALESCE(SUM(l.tokens_in), 0) AS tokens_in,
  COALESCE(SUM(l.tokens_out), 0) AS tokens_out, TOTAL(CASE WHEN l.cached = 1 THEN 0 ELSE l.cost END) AS cost`;
const FROM_LOGS = `json_each(${metadataObject("l.metadata")}) AS m`;
const KEYED = "m.key = ? AND m.type <> 'null'";

/** Whole hours of the rollup. */
const HOURS_SQL = `SELECT value AS key, SUM(requests) AS requests, SUM(errors) AS errors, SUM(tokens_in) AS tokens_in,
  SUM(tokens_out) AS tokens_out, TOTAL(cost) AS cost
  FROM log_metadata_hours WHERE gateway_id = ? AND key = ? AND hour >= ? AND hour < ? GROUP BY value`;
/** A stretch read from the logs themselves (the range's ragged ends, or all of it without a rollup). */
const LOGS_SQL = `SELECT m.value AS key, ${SUMS} FROM logs AS l, ${FROM_LOGS}
  WHERE l.gateway_id = ? AND l.created_at >= ? AND l.created_at < ? AND ${KEYED} GROUP BY m.value`;
/** Logs of the whole hours not folded into the rollup yet (none once the log writer folds each batch). */
const UNFOLDED_SQL = `SELECT m.value AS key, ${SUMS} FROM logs AS l NOT INDEXED, ${FROM_LOGS}
  WHERE l.rowid > ? AND l.gateway_id = ? AND l.created_at >= ? AND l.created_at < ? AND ${KEYED} GROUP BY m.value`;

/**
 * The groups of logs of `gatewayId` in `[startMs, endMs)` by the value of metadata `key`, keyed by that
 * value as SQLite gives it; logs without the key are not in the map. Call it inside a read transaction:
 * the rollup, its mark and the logs must come from one snapshot.
 *
 * Whole hours come from `log_metadata_hours` (log-metadata.ts): about one row per hour and value, so 30
 * days of a 50-value key is ~36,000 rows however many logs there are. The partial hours at either end,
 * and logs the writer has not folded yet, are read from `logs` with `json_each`. Without the rollup
 * (its migration not applied) the whole range is read that way.
 */
export function metadataGroups(db: Database, gatewayId: string, key: string, startMs: number, endMs: number): Map<string | number | null, GroupSums> {
  const logs = db.query<Row, SQLQueryBindings[]>(LOGS_SQL);
  const unfolded = db.query<Row, SQLQueryBindings[]>(UNFOLDED_SQL);
  return rolledUp(db, gatewayId, key, startMs, endMs, {
    logs: (from, to) => logs.all(gatewayId, from, to, key),
    unfolded: (folded, from, to) => unfolded.all(folded, gatewayId, from, to, key),
  });
}

/**
 * The groups of logs of `gatewayId` in `[startMs, endMs)` by provider or model, the same way: whole hours
 * from the rollup's reserved key, the ragged ends and unfolded logs from `logs`. Logs without a model are
 * not in the map (the caller's `null` group is what the totals leave).
 */
export function dimensionGroups(db: Database, gatewayId: string, dimension: Dimension, startMs: number, endMs: number): Map<string | number | null, GroupSums> {
  const column = dimension === "provider" ? "l.provider" : "l.model";
  const logs = db.query<Row, SQLQueryBindings[]>(
    `SELECT ${column} AS key, ${SUMS} FROM logs AS l WHERE l.gateway_id = ? AND l.created_at >= ? AND l.created_at < ? AND ${column} IS NOT NULL GROUP BY 1`,
  );
  const unfolded = db.query<Row, SQLQueryBindings[]>(
    `SELECT ${column} AS key, ${SUMS} FROM logs AS l NOT INDEXED WHERE l.rowid > ? AND l.gateway_id = ? AND l.created_at >= ? AND l.created_at < ? AND ${column} IS NOT NULL GROUP BY 1`,
  );
  // Files migrated before provider and model joined the rollup (version 2) are read from the logs alone.
  const version = db.query<{ version: number }, []>("SELECT version FROM schema_versions WHERE concern = 'log_metadata'").get()?.version ?? 0;
  return rolledUp(db, gatewayId, version >= 2 ? DIMENSION_KEYS[dimension] : null, startMs, endMs, {
    logs: (from, to) => logs.all(gatewayId, from, to),
    unfolded: (folded, from, to) => unfolded.all(folded, gatewayId, from, to),
  });
}

/** How to read one grouping from the logs themselves: a stretch, and the logs above the folded mark in a stretch. */
interface FromLogs {
  logs(from: number, to: number): Row[];
  unfolded(folded: number, from: number, to: number): Row[];
}

function rolledUp(db: Database, gatewayId: string, rollupKey: string | null, startMs: number, endMs: number, read: FromLogs): Map<string | number | null, GroupSums> {
  const groups = new Map<string | number | null, GroupSums>();
  const add = (rows: Row[]) => {
    for (const { key: value, ...row } of rows) {
      const group = groups.get(value);
      if (!group) groups.set(value, row);
      else for (const field of ["requests", "errors", "tokens_in", "tokens_out", "cost"] as const) group[field] += row[field];
    }
  };
  // Hour by hour: many small sorts are cheaper than one over the range.
  const fromLogs = (from: number, to: number) => {
    while (from < to) {
      const sliceEnd = Math.min(to, (Math.floor(from / ROLLUP_HOUR_MS) + 1) * ROLLUP_HOUR_MS);
      add(read.logs(from, sliceEnd));
      from = sliceEnd;
    }
  };
  const folded = rollupKey === null ? null : foldedUpTo(db);
  const firstHour = Math.ceil(startMs / ROLLUP_HOUR_MS);
  const endHour = Math.floor(endMs / ROLLUP_HOUR_MS);
  if (folded === null || firstHour >= endHour) {
    fromLogs(startMs, endMs);
    return groups;
  }
  add(db.query<Row, SQLQueryBindings[]>(HOURS_SQL).all(gatewayId, rollupKey!, firstHour, endHour));
  add(read.unfolded(folded, firstHour * ROLLUP_HOUR_MS, endHour * ROLLUP_HOUR_MS));
  fromLogs(startMs, firstHour * ROLLUP_HOUR_MS);
  fromLogs(endHour * ROLLUP_HOUR_MS, endMs);
  return groups;
}

/** The rowid up to which logs are in the rollup; null without the rollup. */
function foldedUpTo(db: Database): number | null {
  const exists = db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'log_metadata_folded'").get();
  if (!exists?.n) return null;
  return db.query<{ last_rowid: number }, []>("SELECT last_rowid FROM log_metadata_folded").get()?.last_rowid ?? 0;
}
