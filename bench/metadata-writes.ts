/**
 * `bun bench/metadata-writes.ts [--records 50000] [--rounds 5]` — what the metadata rollup
 * (src/store/sqlite/log-metadata.ts) costs the log writer, in CPU µs per record.
 *
 * Writes `--records` records with payloads and `{user, team}` metadata into a fresh SQLite file
 * (opened by `openDatabase`, 16 KiB pages, WAL) the way `LogWriter` does: the same statements, 256
 * records per IMMEDIATE transaction, each payload keyed by its log's rowid. Variants, interleaved over
 * `--rounds` rounds (the machine is shared; the minimum is the least disturbed round):
 *   - `none`      the logs schema alone (no rollup).
 *   - `rollup`    with the rollup, as the writer feeds it: `begin()` before each batch's inserts and
 *                 `fold(logs)` after, which sums the batch in JS.
 *   - `sql-fold`  the rollup's paths in SQL: the fold reads the batch back from `logs` (`fold()`: what a
 *                 batch with a replaced log or an unusual metadata value gets), and the prune is a plain
 *                 DELETE, each log taken out by the delete trigger (what the admin API's deletes get).
 *   - `trigger`   the design not taken: the same rollup kept by an AFTER INSERT trigger on `logs`.
 *   - `no-meta`   `rollup`, records without metadata.
 * Then, per variant, a retention pass deletes the older half (`created_at < ?`, through
 * `LogMetadataRollup.deleteLogs` as `LogWriter.prune` does, or a plain DELETE without the rollup) and
 * its CPU per deleted record is shown.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { SQLQueryBindings, Statement } from "bun:sqlite";
import { migrate, openDatabase } from "../src/store/sqlite/db.ts";
import { LOG_METADATA_MIGRATIONS, LogMetadataRollup, metadataObject, ROLLUP_HOUR_MS } from "../src/store/sqlite/log-metadata.ts";
import { DELETE_LOG_SQL, INSERT_LOG_SQL, INSERT_PAYLOAD_SQL, LOG_MIGRATIONS } from "../src/store/sqlite/log-rows.ts";

const { values } = parseArgs({ options: { records: { type: "string", default: "50000" }, rounds: { type: "string", default: "5" } } });
const RECORDS = Number(values.records);
const ROUNDS = Number(values.rounds);
const BATCH = 256;

// The rejected design, for comparison: the fold's work done row by row in an INSERT trigger.
const INSERT_TRIGGER = `CREATE TRIGGER bench_metadata_insert AFTER INSERT ON logs WHEN NEW.metadata IS NOT NULL BEGIN
  INSERT INTO log_metadata_hours (gateway_id, key, hour, value, requests, errors, tokens_in, tokens_out, cost)
  SELECT NEW.gateway_id, m.key, NEW.created_at / ${ROLLUP_HOUR_MS}, m.value, 1, NEW.success = 0, COALESCE(NEW.tokens_in, 0), COALESCE(NEW.tokens_out, 0),
    CASE WHEN NEW.cached = 1 THEN 0 ELSE COALESCE(NEW.cost, 0) END
  FROM json_each(${metadataObject("NEW.metadata")}) AS m WHERE m.type <> 'null'
  ON CONFLICT DO UPDATE SET requests = requests + 1, errors = errors + excluded.errors, tokens_in = tokens_in + excluded.tokens_in,
    tokens_out = tokens_out + excluded.tokens_out, cost = cost + excluded.cost;
  UPDATE log_metadata_folded SET last_rowid = NEW.rowid;
END;`;

type Variant = "none" | "rollup" | "sql-fold" | "trigger" | "no-meta";
const VARIANTS: Variant[] = ["none", "rollup", "sql-fold", "trigger", "no-meta"];

const requestBody = new TextEncoder().encode(JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello in one word." }] }));
const responseBody = new TextEncoder().encode("x".repeat(650));
const start = Date.UTC(2026, 0, 1);

/** A log row as `logParams` makes it (see log-rows.ts LOG_COLUMNS) and its payload row (its first value, the rowid, set as it is written). */
function rows(withMetadata: boolean): [SQLQueryBindings[], SQLQueryBindings[]][] {
  return Array.from({ length: RECORDS }, (_, i) => {
    const id = `01K${String(i).padStart(23, "0")}`;
    const metadata = withMetadata ? JSON.stringify({ user: `user-${i % 50}`, team: ["search", "support", "growth", "infra"][i % 4] }) : null;
    return [
      [id, "prod", start + i * 500, "openai", "gpt-4o-mini", "chat/completions", "POST", 200, 1, 0, 0, 420, 180, 1200, 300, 0, 0, 0.00036, 0,
        metadata, `event-${i}`, "provider", "application/json", "application/json", requestBody.length, responseBody.length, "openai-node/5", null,
        null, null, 0, `[{"step":0,"provider":"openai","status":200,"durationMs":420,"ttfbMs":180}]`],
      [null, '{"content-type":"application/json","authorization":"[redacted]"}', '{"content-type":"application/json"}', requestBody, responseBody, 0, 0],
    ];
  });
}

function run(variant: Variant, data: [SQLQueryBindings[], SQLQueryBindings[]][]): { write: number; prune: number } {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-metadata-writes-"));
  try {
    const db = openDatabase(join(dir, "logs.db"));
    migrate(db, "logs", LOG_MIGRATIONS);
    if (variant !== "none") migrate(db, "log_metadata", LOG_METADATA_MIGRATIONS);
    if (variant === "trigger") db.run(INSERT_TRIGGER);
    // Typed as LogWriter types them: `run(values)` with the array, not spread (log-writes.ts).
    const insertLog: Statement = db.prepare(INSERT_LOG_SQL);
    const deleteLog: Statement = db.prepare(DELETE_LOG_SQL);
    const insertPayload: Statement = db.prepare(INSERT_PAYLOAD_SQL);
    const rollup = variant === "rollup" || variant === "sql-fold" || variant === "no-meta" ? new LogMetadataRollup(db) : null;
    const write = db.transaction((batch: typeof data) => {
      rollup?.begin();
      let replaced = false;
      for (const [log, payload] of batch) {
        let { changes, lastInsertRowid } = insertLog.run(log);
        if (changes === 0) {
          deleteLog.run(log[0]);
          ({ lastInsertRowid } = insertLog.run(log));
          replaced = true;
        }
        payload[0] = lastInsertRowid;
        insertPayload.run(payload);
      }
      rollup?.fold(replaced || variant === "sql-fold" ? undefined : batch.map(([log]) => log));
    });
    let cpu = process.cpuUsage();
    for (let i = 0; i < data.length; i += BATCH) write.immediate(data.slice(i, i + BATCH));
    const written = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const doomed: SQLQueryBindings[] = ["prod", start + (RECORDS / 2) * 500];
    const deleted =
      rollup && variant !== "sql-fold"
        ? rollup.deleteLogs("gateway_id = ? AND created_at < ?", doomed)
        : db.run("DELETE FROM logs WHERE gateway_id = ? AND created_at < ?", doomed).changes;
    const pruned = process.cpuUsage(cpu);
    if (variant !== "none") {
      // The trigger of the design not taken keeps only the metadata; without metadata only the provider is there.
      const keys = variant === "trigger" ? ["user"] : variant === "no-meta" ? ["\u0001provider"] : ["user", "\u0001provider"];
      for (const key of keys) {
        const counted = db.query<{ n: number }, [string]>("SELECT COALESCE(SUM(requests), 0) AS n FROM log_metadata_hours WHERE key = ?").get(key)!.n;
        if (counted !== RECORDS - deleted) throw new Error(`${variant}: the rollup counts ${counted} logs under ${JSON.stringify(key)}, ${RECORDS - deleted} are stored`);
      }
    }
    db.close();
    return { write: (written.user + written.system) / RECORDS, prune: (pruned.user + pruned.system) / deleted };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const withMetadata = rows(true);
const withoutMetadata = rows(false);
const results = new Map<Variant, { write: number[]; prune: number[] }>(VARIANTS.map((v) => [v, { write: [], prune: [] }]));
for (let round = 0; round < ROUNDS; round++) {
  for (const variant of VARIANTS) {
    const r = run(variant, variant === "no-meta" ? withoutMetadata : withMetadata);
    results.get(variant)!.write.push(r.write);
    results.get(variant)!.prune.push(r.prune);
  }
}
const min = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = results.get("none")!;
console.log(`${RECORDS} records × ${ROUNDS} rounds, ${BATCH} per transaction; CPU µs per record (min / median of rounds)\n`);
console.log(`${"variant".padEnd(10)} ${"write".padStart(14)} ${"vs none".padStart(8)} ${"prune".padStart(14)} ${"vs none".padStart(8)}`);
for (const [variant, r] of results) {
  const cell = (xs: number[]) => `${min(xs).toFixed(2)} / ${median(xs).toFixed(2)}`.padStart(14);
  const delta = (xs: number[], b: number[]) => `${min(xs) - min(b) >= 0 ? "+" : ""}${(min(xs) - min(b)).toFixed(2)}`.padStart(8);
  console.log(`${variant.padEnd(10)} ${cell(r.write)} ${delta(r.write, base.write)} ${cell(r.prune)} ${delta(r.prune, base.prune)}`);
}
