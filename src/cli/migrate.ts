import { loadConfig } from "../config/loader.ts";
import { openPostgres } from "../store/postgres/db.ts";
import { migrate, schemaVersions } from "../store/postgres/migrate.ts";
import { booleanFlag, stringFlag, type Args, type Command } from "./args.ts";
import { CONFIG_FLAG, JSON_FLAG } from "./common.ts";

/**
 * `switchboard migrate`: brings the PostgreSQL schema (logs, gateway tokens) up to date now, under the
 * same advisory lock the gateway takes at start-up, so it is safe while replicas run or start. Every
 * command that opens the store migrates anyway; this makes it an explicit deploy step. Without
 * `storage.postgres` there is nothing to do: SQLite files migrate themselves when opened.
 */
export const migrateCommand: Command = {
  name: "migrate",
  synopsis: "[--config PATH] [--json]",
  summary: "bring the PostgreSQL schema up to date (SQLite migrates itself)",
  flags: { config: CONFIG_FLAG, json: JSON_FLAG },
  run: migrateSchema,
};

async function migrateSchema(args: Args): Promise<void> {
  const config = await loadConfig(stringFlag(args, "config"));
  const json = booleanFlag(args, "json");
  const url = config.storage.postgres;
  if (!url) {
    const note = `storage.postgres is not set: the SQLite file ${config.storage.sqlite} migrates itself whenever the gateway or a command opens it. Nothing to do.`;
    console.log(json ? JSON.stringify({ engine: "sqlite", migrated: [] }) : note);
    return;
  }
  const db = await openPostgres(url, { timeoutMs: config.storage.timeout, migrate: false });
  try {
    const steps = await migrate(db.sql, { timeoutMs: 5 * 60_000 });
    const versions = await db.run((sql) => schemaVersions(sql), "reading schema versions");
    if (json) {
      console.log(JSON.stringify({ engine: "postgres", database: db.target, migrated: steps, versions }));
      return;
    }
    const current = Object.entries(versions)
      .map(([concern, version]) => `${concern} v${version}`)
      .join(", ");
    if (steps.length === 0) console.log(`PostgreSQL at ${db.target} is up to date (${current}).`);
    else {
      console.log(`Migrated PostgreSQL at ${db.target}:`);
      for (const step of steps) console.log(`  ${step.concern}: version ${step.from} → ${step.to}`);
    }
  } catch (error) {
    throw new Error(`Migrating PostgreSQL at ${db.target} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  } finally {
    await db.close();
  }
}
