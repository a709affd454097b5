import type { SQL } from "bun";
import { deadline } from "./errors.ts";
import { SCHEMA } from "./schema.ts";

/**
 * Key of the advisory lock every Switchboard process takes to migrate (`"SWBD"` + 1 in hex): one at a
 * time per database, however many replicas start together.
 */
const MIGRATION_LOCK = 0x5357_4244_0001;

/** One concern moved from `from` to `to`. */
export interface MigrationStep {
  concern: string;
  from: number;
  to: number;
}

/**
 * Brings every concern of `schema` up to date, in one transaction under a transaction-level advisory
 * lock (`pg_advisory_xact_lock`): a second process arriving meanwhile waits, then finds nothing left to
 * do. Versions live in `schema_migrations` (one row per concern). A database migrated by a newer
 * Switchboard is refused rather than touched. Applied entries are skipped, so only ever append to a list.
 *
 * @returns the concerns whose version changed (empty when everything was current)
 * @example
 * const steps = await migrate(sql); // [{ concern: "logs", from: 0, to: 1 }, { concern: "tokens", from: 0, to: 1 }]
 */
export async function migrate(
  sql: SQL,
  options: { schema?: Readonly<Record<string, readonly string[]>>; timeoutMs?: number } = {},
): Promise<MigrationStep[]> {
  const schema = options.schema ?? SCHEMA;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const work = sql.begin(async (tx) => {
    // A big table may take a while to index: the pool's statement_timeout is for queries, not for this.
    // Waiting for another replica's migration is bounded on the server too, not only here.
    await tx`SELECT set_config('statement_timeout', '0', true), set_config('lock_timeout', ${String(timeoutMs)}, true)`;
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      concern text PRIMARY KEY,
      version integer NOT NULL,
      migrated_at timestamptz NOT NULL DEFAULT now()
    )`;
    const steps: MigrationStep[] = [];
    for (const [concern, migrations] of Object.entries(schema)) {
      const [row] = await tx<{ version: number }[]>`SELECT version FROM schema_migrations WHERE concern = ${concern}`;
      const from = row?.version ?? 0;
      if (from > migrations.length) {
        throw new Error(`the "${concern}" schema is at version ${from}, newer than this binary's ${migrations.length}; use a newer switchboard`);
      }
      if (from === migrations.length) continue;
      // Several statements per entry: the simple protocol runs them as one string (no parameters here).
      for (let i = from; i < migrations.length; i++) await tx.unsafe(migrations[i]).simple();
      await tx`INSERT INTO schema_migrations (concern, version) VALUES (${concern}, ${migrations.length})
        ON CONFLICT (concern) DO UPDATE SET version = EXCLUDED.version, migrated_at = now()`;
      steps.push({ concern, from, to: migrations.length });
    }
    return steps;
  });
  return deadline(work, timeoutMs, "migrating the schema");
}

/** The version of each concern in the database (0: never migrated). */
export async function schemaVersions(sql: SQL, schema = SCHEMA): Promise<Record<string, number>> {
  const [exists] = await sql<{ found: boolean }[]>`SELECT to_regclass('schema_migrations') IS NOT NULL AS found`;
  const rows = exists?.found ? await sql<{ concern: string; version: number }[]>`SELECT concern, version FROM schema_migrations` : [];
  const versions: Record<string, number> = {};
  for (const concern of Object.keys(schema)) versions[concern] = rows.find((row) => row.concern === concern)?.version ?? 0;
  return versions;
}
