import type { Database, SQLQueryBindings, Statement } from "bun:sqlite";
import { batchRollupRows } from "./log-metadata-batch.ts";

/**
 * The metadata rollup: per gateway, metadata key, hour and value, the counters of the logs carrying
 * that value, so `group_by=metadata.<key>` reads a few rows per hour (log-metadata-groups.ts) instead
 * of parsing the metadata of every log in the range. Provider and model are in it too, as two reserved
 * keys (`DIMENSION_KEYS`), so `group_by=provider|model` reads it the same way instead of sorting every
 * hour of logs (migration 2).
 *
 * How it stays equal to `logs` (measured in docs/benchmarks.md, "Analytics query over 1,000,000 logs"):
 * - **Appends are folded in per batch, not by a trigger.** Any INSERT trigger on `logs`, even one
 *   whose WHEN is false, makes every insert keep a statement journal of the pages it touches (16 KiB
 *   each: past SQLite's 64 KiB in-memory limit, so into a temp file): the rollup as a trigger cost +24 µs
 *   of writer CPU per record, a set-based fold of each batch +2.3 µs, the batch summed in JS +0.8 µs
 *   (bench/metadata-writes.ts). The log writer calls `LogMetadataRollup.fold` in each batch's
 *   transaction; it adds every log above `log_metadata_folded.last_rowid`, so rows written any other way
 *   (an older binary, a bulk import) are caught up by the next fold, and until then the analytics read
 *   them from `logs` (log-metadata-groups.ts).
 * - **The writer's own batch is summed in JS** (`batchRollupRows`) from the values it has just bound,
 *   when they are the only logs above the mark: one upsert per rollup row the batch touches. In SQL the
 *   same fold reads the batch back, parses each log's metadata again and sorts every (log, key) pair for
 *   its `GROUP BY`, which costs about 2.5 times as much. Values whose key SQLite might give otherwise than
 *   JS (a fraction, an integer past 2^53, an object, an array, any escaped character) leave the batch to SQL.
 * - **Patches and deletes are triggers** (UPDATE and DELETE triggers cost an insert nothing), so no write
 *   path needs to know about the rollup. They only touch folded logs.
 * - **Retention deletes in bulk** (`LogMetadataRollup.deleteLogs`): the logs it deletes are taken out in
 *   one grouped pass, and the delete trigger stands aside (migration 3).
 * - **A replaced log** (an id already stored, e.g. a batch sent again after the writer thread died) is
 *   deleted by the writer before it is inserted again (log-writes.ts), so the triggers take the old
 *   version out.
 *
 * Values are kept as `json_each` gives them (text, integer, real; true/false as 1/0, objects and arrays as
 * JSON text), exactly what `json_extract` gave the analytics before; JSON null and absent keys are not
 * stored: the analytics count those logs in the `null` group (the range's total minus the keyed groups).
 */

/** One hour, the rollup's time grain: ranges are read from it in whole hours, their ragged ends from `logs`. */
export const ROLLUP_HOUR_MS = 3_600_000;

/** `x` if it is a JSON object, else NULL: `json_each` then yields nothing instead of failing on bad JSON. */
export const metadataObject = (x: string) => `CASE WHEN json_valid(${x}) THEN CASE json_type(${x}) WHEN 'object' THEN ${x} END END`;

/**
 * Provider and model are kept in the same rollup as two more keys, so `group_by=provider|model` reads
 * it too: `\u0001provider` and `\u0001model` (not NUL: SQLite's string functions stop at it).
 * Metadata keys starting with U+0001 are not folded (the analytics API only groups by keys of
 * `[A-Za-z0-9_-]`), so the two can never mix with metadata.
 */
export const DIMENSION_KEYS = { provider: "\u0001provider", model: "\u0001model" } as const;
export type Dimension = keyof typeof DIMENSION_KEYS;

const FOLDED = "(SELECT last_rowid FROM log_metadata_folded)";
const ENTRIES = (row: string) => `json_each(${metadataObject(`${row}.metadata`)}) AS m`;
const HOUR = (row: string) => `${row}.created_at / ${ROLLUP_HOUR_MS}`;
const NOT_NULL = "m.type <> 'null' AND substr(m.key, 1, 1) <> char(1)";

/** The dimension rows of one log (`row`: an alias or OLD/NEW): its provider, and its model when it has one. */
const DIMENSIONS = (row: string) => `SELECT char(1) || 'provider' AS key, ${row}.provider AS value
    UNION ALL SELECT char(1) || 'model', ${row}.model WHERE ${row}.model IS NOT NULL`;

/** What an insert into `log_metadata_hours` does to a row already there: adds to its counters. */
const ADD_EXCLUDED = `ON CONFLICT DO UPDATE SET requests = requests + excluded.requests, errors = errors + excluded.errors,
    tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out, cost = cost + excluded.cost`;

/** Adds the logs above the folded mark, then moves the mark. `NOT INDEXED`: a rowid range, whatever the statistics say. */
const FOLD_SQL = `INSERT INTO log_metadata_hours (gateway_id, key, hour, value, requests, errors, tokens_in, tokens_out, cost)
  SELECT l.gateway_id, m.key, ${HOUR("l")}, m.value, COUNT(*), SUM(l.success = 0), COALESCE(SUM(l.tokens_in), 0),
    COALESCE(SUM(l.tokens_out), 0), TOTAL(CASE WHEN l.cached = 1 THEN 0 ELSE l.cost END)
  FROM logs AS l NOT INDEXED, ${ENTRIES("l")}
  WHERE l.rowid > ${FOLDED} AND ${NOT_NULL}
  GROUP BY 1, 2, 3, 4
  ${ADD_EXCLUDED}`;
/** Adds the provider and model of the logs `which` selects (by rowid) to the rollup. */
const foldDimensions = (which: string) => `INSERT INTO log_metadata_hours (gateway_id, key, hour, value, requests, errors, tokens_in, tokens_out, cost)
  SELECT gateway_id, key, hour, value, COUNT(*), SUM(errors), SUM(tokens_in), SUM(tokens_out), TOTAL(cost) FROM (
    SELECT l.gateway_id, char(1) || 'provider' AS key, ${HOUR("l")} AS hour, l.provider AS value, l.success = 0 AS errors,
      COALESCE(l.tokens_in, 0) AS tokens_in, COALESCE(l.tokens_out, 0) AS tokens_out, CASE WHEN l.cached = 1 THEN 0 ELSE COALESCE(l.cost, 0) END AS cost
    FROM logs AS l NOT INDEXED WHERE ${which}
    UNION ALL
    SELECT l.gateway_id, char(1) || 'model', ${HOUR("l")}, l.model, l.success = 0, COALESCE(l.tokens_in, 0), COALESCE(l.tokens_out, 0),
      CASE WHEN l.cached = 1 THEN 0 ELSE COALESCE(l.cost, 0) END
    FROM logs AS l NOT INDEXED WHERE ${which} AND l.model IS NOT NULL
  ) WHERE TRUE
  GROUP BY 1, 2, 3, 4
  ${ADD_EXCLUDED}`;
/** The provider and model of the logs above the folded mark (run before the mark moves). */
const FOLD_DIMENSIONS_SQL = foldDimensions(`l.rowid > ${FOLDED}`);
const MARK_SQL = `UPDATE log_metadata_folded SET last_rowid = (SELECT MAX(rowid) FROM logs) WHERE (SELECT MAX(rowid) FROM logs) > last_rowid`;
/** Whether every stored log is folded (none above the mark). */
const CAUGHT_UP_SQL = "SELECT last_rowid = (SELECT COALESCE(MAX(rowid), 0) FROM logs) AS caught_up FROM log_metadata_folded";
/** Adds one row's counters (summed by `BatchSums`). */
const ADD_ROW_SQL = `INSERT INTO log_metadata_hours (gateway_id, key, hour, value, requests, errors, tokens_in, tokens_out, cost)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ${ADD_EXCLUDED}`;

/**
 * Takes one log (`OLD`) out of the rollup if `condition` holds (rows it leaves empty go: see the
 * `log_metadata_hours_empty` trigger). Rows are found by their whole key (`IN`, one seek each): an
 * `UPDATE … FROM json_each` was planned as a scan of the gateway's rows, 5× slower.
 */
const subtractOld = (condition = "TRUE") => {
  const rows = `(gateway_id, key, hour, value) IN
    (SELECT OLD.gateway_id, m.key, ${HOUR("OLD")}, m.value FROM ${ENTRIES("OLD")} WHERE ${NOT_NULL} AND ${condition})`;
  return `UPDATE log_metadata_hours SET requests = requests - 1, errors = errors - (OLD.success = 0),
    tokens_in = tokens_in - COALESCE(OLD.tokens_in, 0), tokens_out = tokens_out - COALESCE(OLD.tokens_out, 0),
    cost = cost - CASE WHEN OLD.cached = 1 THEN 0 ELSE COALESCE(OLD.cost, 0) END
  WHERE ${rows};`;
};

/** Takes one log's provider and model (`OLD`) out of the rollup if `condition` holds. */
const subtractOldDimensions = (condition = "TRUE") => `UPDATE log_metadata_hours SET requests = requests - 1, errors = errors - (OLD.success = 0),
    tokens_in = tokens_in - COALESCE(OLD.tokens_in, 0), tokens_out = tokens_out - COALESCE(OLD.tokens_out, 0),
    cost = cost - CASE WHEN OLD.cached = 1 THEN 0 ELSE COALESCE(OLD.cost, 0) END
  WHERE ${condition} AND (gateway_id, key, hour, value) IN (SELECT OLD.gateway_id, d.key, ${HOUR("OLD")}, d.value FROM (${DIMENSIONS("OLD")}) AS d);`;

/** Takes one deleted log (`OLD`) out of the rollup: the delete trigger's body (since migration 2). */
const DELETE_ONE = `${subtractOld(`OLD.rowid <= ${FOLDED}`)}
    ${subtractOldDimensions(`OLD.rowid <= ${FOLDED}`)}
    -- New rowids follow the largest one left: once the top rows are gone, lower the mark so those get folded.
    UPDATE log_metadata_folded SET last_rowid = (SELECT COALESCE(MAX(rowid), 0) FROM logs)
    WHERE OLD.rowid >= last_rowid AND last_rowid > (SELECT COALESCE(MAX(rowid), 0) FROM logs);`;

/** The counters one log (`row`) adds to each of its rollup rows, named as `log_metadata_hours` names them. */
const COUNTERS = (row: string) => `${row}.success = 0 AS errors, COALESCE(${row}.tokens_in, 0) AS tokens_in,
    COALESCE(${row}.tokens_out, 0) AS tokens_out, CASE WHEN ${row}.cached = 1 THEN 0 ELSE COALESCE(${row}.cost, 0) END AS cost`;

/**
 * Takes the folded logs `where` (a condition on `logs`) selects out of the rollup: their rows summed per
 * rollup row (metadata values, provider, model), each subtracted with one seek. Run just before deleting them.
 */
const subtractLogs = (where: string) => `WITH doomed AS (SELECT rowid FROM logs WHERE (${where}) AND rowid <= ${FOLDED})
  UPDATE log_metadata_hours AS h SET requests = h.requests - d.requests, errors = h.errors - d.errors, tokens_in = h.tokens_in - d.tokens_in,
    tokens_out = h.tokens_out - d.tokens_out, cost = h.cost - d.cost
  FROM (
    SELECT gateway_id, key, hour, value, COUNT(*) AS requests, SUM(errors) AS errors, SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out,
      TOTAL(cost) AS cost
    FROM (
      SELECT l.gateway_id, m.key, ${HOUR("l")} AS hour, m.value, ${COUNTERS("l")} FROM logs AS l, ${ENTRIES("l")} WHERE l.rowid IN doomed AND ${NOT_NULL}
      UNION ALL
      SELECT l.gateway_id, char(1) || 'provider', ${HOUR("l")}, l.provider, ${COUNTERS("l")} FROM logs AS l WHERE l.rowid IN doomed
      UNION ALL
      SELECT l.gateway_id, char(1) || 'model', ${HOUR("l")}, l.model, ${COUNTERS("l")} FROM logs AS l WHERE l.rowid IN doomed AND l.model IS NOT NULL
    )
    GROUP BY 1, 2, 3, 4
  ) AS d
  WHERE h.gateway_id = d.gateway_id AND h.key = d.key AND h.hour = d.hour AND h.value = d.value`;
/** After deleting in bulk: if the top rows are gone, the mark comes down to the largest rowid left (see `DELETE_ONE`). */
const LOWER_MARK_SQL = `UPDATE log_metadata_folded SET last_rowid = (SELECT COALESCE(MAX(rowid), 0) FROM logs)
  WHERE last_rowid > (SELECT COALESCE(MAX(rowid), 0) FROM logs)`;

/** Puts one log's provider and model (`NEW`) into the rollup. */
const ADD_NEW_DIMENSIONS = `INSERT INTO log_metadata_hours (gateway_id, key, hour, value, requests, errors, tokens_in, tokens_out, cost)
  SELECT NEW.gateway_id, d.key, ${HOUR("NEW")}, d.value, 1, NEW.success = 0, COALESCE(NEW.tokens_in, 0), COALESCE(NEW.tokens_out, 0),
    CASE WHEN NEW.cached = 1 THEN 0 ELSE COALESCE(NEW.cost, 0) END
  FROM (${DIMENSIONS("NEW")}) AS d WHERE TRUE
  ON CONFLICT DO UPDATE SET requests = requests + 1, errors = errors + excluded.errors, tokens_in = tokens_in + excluded.tokens_in,
    tokens_out = tokens_out + excluded.tokens_out, cost = cost + excluded.cost;`;

/** Puts one log (`NEW`) into the rollup. */
const ADD_NEW = `INSERT INTO log_metadata_hours (gateway_id, key, hour, value, requests, errors, tokens_in, tokens_out, cost)
  SELECT NEW.gateway_id, m.key, ${HOUR("NEW")}, m.value, 1, NEW.success = 0, COALESCE(NEW.tokens_in, 0), COALESCE(NEW.tokens_out, 0),
    CASE WHEN NEW.cached = 1 THEN 0 ELSE COALESCE(NEW.cost, 0) END
  FROM ${ENTRIES("NEW")} WHERE ${NOT_NULL}
  ON CONFLICT DO UPDATE SET requests = requests + 1, errors = errors + excluded.errors, tokens_in = tokens_in + excluded.tokens_in,
    tokens_out = tokens_out + excluded.tokens_out, cost = cost + excluded.cost;`;

/** Migrations of the `log_metadata` concern (applied after the `logs` ones: it reads that table). */
export const LOG_METADATA_MIGRATIONS: readonly string[] = [
  // `value` has no type affinity (declared BLOB), so text "42" stays text and 42 stays an integer.
  `CREATE TABLE log_metadata_hours (
    gateway_id TEXT NOT NULL,
    key TEXT NOT NULL,
    hour INTEGER NOT NULL,
    value BLOB NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    tokens_in INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    cost REAL NOT NULL,
    PRIMARY KEY (gateway_id, key, hour, value)
  ) WITHOUT ROWID;
  CREATE TABLE log_metadata_folded (id INTEGER PRIMARY KEY CHECK (id = 1), last_rowid INTEGER NOT NULL);
  INSERT INTO log_metadata_folded (id, last_rowid) VALUES (1, 0);
  -- A row whose last log left is dropped at once (cheaper than a second look-up of every log's entries).
  CREATE TRIGGER log_metadata_hours_empty AFTER UPDATE OF requests ON log_metadata_hours WHEN NEW.requests = 0 BEGIN
    DELETE FROM log_metadata_hours WHERE gateway_id = NEW.gateway_id AND key = NEW.key AND hour = NEW.hour AND value = NEW.value;
  END;
  CREATE TRIGGER log_metadata_delete AFTER DELETE ON logs
  WHEN (OLD.metadata IS NOT NULL AND OLD.rowid <= ${FOLDED}) OR OLD.rowid >= ${FOLDED} BEGIN
    ${subtractOld(`OLD.rowid <= ${FOLDED}`)}
    -- New rowids follow the largest one left: once the top rows are gone, lower the mark so those get folded.
    UPDATE log_metadata_folded SET last_rowid = (SELECT COALESCE(MAX(rowid), 0) FROM logs)
    WHERE OLD.rowid >= last_rowid AND last_rowid > (SELECT COALESCE(MAX(rowid), 0) FROM logs);
  END;
  CREATE TRIGGER log_metadata_update AFTER UPDATE OF gateway_id, created_at, success, cached, tokens_in, tokens_out, cost, metadata ON logs
  WHEN OLD.rowid <= ${FOLDED} BEGIN
    ${subtractOld()}
    ${ADD_NEW}
  END;
  ${FOLD_SQL};
  ${MARK_SQL};`,
  // 2: provider and model join the rollup (DIMENSION_KEYS): every folded log is in it now, so a delete
  // or an update of any folded log adjusts it. Metadata keys starting with U+0001 leave it. The logs
  // already folded get their provider and model; the mark stays (later ones get both at their fold).
  `DELETE FROM log_metadata_hours WHERE substr(key, 1, 1) = char(1);
  DROP TRIGGER log_metadata_delete;
  DROP TRIGGER log_metadata_update;
  CREATE TRIGGER log_metadata_delete AFTER DELETE ON logs BEGIN
    ${DELETE_ONE}
  END;
  CREATE TRIGGER log_metadata_update AFTER UPDATE OF gateway_id, created_at, provider, model, success, cached, tokens_in, tokens_out, cost, metadata ON logs
  WHEN OLD.rowid <= ${FOLDED} BEGIN
    ${subtractOld()}
    ${subtractOldDimensions()}
    ${ADD_NEW}
    ${ADD_NEW_DIMENSIONS}
  END;
  ${foldDimensions(`l.rowid <= ${FOLDED}`)};`,
  // 3: a delete that takes its logs out of the rollup itself, in one grouped pass (`deleteLogs`: retention),
  // sets `deleting_in_bulk` first, and the trigger stands aside. Per pruned log with metadata, over no
  // rollup at all: +8 to +9 µs of writer CPU through the trigger's three statements per log, +3.7 to +5 µs
  // through the grouped pass (bench/metadata-writes.ts "prune", and the same in prunes of 1,500 logs).
  `ALTER TABLE log_metadata_folded ADD COLUMN deleting_in_bulk INTEGER NOT NULL DEFAULT 0;
  DROP TRIGGER log_metadata_delete;
  CREATE TRIGGER log_metadata_delete AFTER DELETE ON logs WHEN (SELECT deleting_in_bulk FROM log_metadata_folded) = 0 BEGIN
    ${DELETE_ONE}
  END;`,
];

/**
 * The log writer's side of the rollup, on the writer's connection: `begin` and `fold` belong in each
 * batch's transaction, around its inserts; retention deletes through `deleteLogs`.
 *
 * @example
 * const rollup = new LogMetadataRollup(db);
 * db.transaction((logs) => {
 *   rollup.begin();
 *   for (const log of logs) insertLog.run(log);
 *   rollup.fold(logs);
 * }).immediate(logs);
 */
export class LogMetadataRollup {
  private readonly deleting: (where: string, params: SQLQueryBindings[]) => number;
  private readonly caughtUp: Statement<{ caught_up: number }, []>;
  private readonly addRow: Statement;
  private readonly folding: (written: readonly (readonly SQLQueryBindings[])[] | null) => void;
  /** Set by `begin`: every log stored before the batch was folded, so the batch's own are all there is to fold. */
  private onlyBatch = false;

  constructor(db: Database) {
    const inBulk = db.prepare<unknown, [number]>("UPDATE log_metadata_folded SET deleting_in_bulk = ?");
    const lowerMark = db.prepare(LOWER_MARK_SQL);
    this.deleting = db.transaction((where: string, params: SQLQueryBindings[]) => {
      db.query<unknown, SQLQueryBindings[]>(subtractLogs(where)).run(...params);
      inBulk.run(1);
      const { changes } = db.query<unknown, SQLQueryBindings[]>(`DELETE FROM logs WHERE ${where}`).run(...params);
      inBulk.run(0);
      lowerMark.run();
      return changes;
    });
    this.caughtUp = db.prepare(CAUGHT_UP_SQL);
    this.addRow = db.prepare(ADD_ROW_SQL);
    const foldRows = db.prepare(FOLD_SQL);
    const foldDimensionRows = db.prepare(FOLD_DIMENSIONS_SQL);
    const moveMark = db.prepare(MARK_SQL);
    // Its own transaction (a savepoint inside the batch's): a reader never sees rows folded and the mark not moved.
    this.folding = db.transaction((written: readonly (readonly SQLQueryBindings[])[] | null) => {
      const rows = written && batchRollupRows(written);
      if (rows) {
        for (const row of rows) this.addRow.run(row);
      } else {
        foldRows.run();
        foldDimensionRows.run();
      }
      moveMark.run();
    });
  }

  /**
   * Deletes the logs `where` selects (SQL over `logs` with `params`; never client text), taking them out of
   * the rollup first in one grouped pass instead of the delete trigger's statements per log. For retention,
   * which deletes thousands at a time. Returns how many were deleted.
   */
  deleteLogs(where: string, params: SQLQueryBindings[]): number {
    return this.deleting(where, params);
  }

  /** Before a batch's inserts: notes whether every log stored so far is folded. */
  begin(): void {
    this.onlyBatch = this.caughtUp.get()?.caught_up === 1;
  }

  /**
   * Adds every log written since the last fold. `written`: the values (`logParams`) of the logs inserted
   * since `begin`, when nothing else changed `logs` meanwhile (no log was deleted or replaced): they are
   * summed from these values instead of read back.
   */
  fold(written?: readonly (readonly SQLQueryBindings[])[]): void {
    const batch = this.onlyBatch && written ? written : null;
    this.onlyBatch = false;
    this.folding(batch);
  }
}
