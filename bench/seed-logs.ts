/**
 * `bun bench/seed-logs.ts [--rows 1000000] [--db PATH] [--days 30] [--end ISO]` — fills a SQLite file
 * with realistic log rows for the analytics benchmark (bench/analytics.ts): several gateways, providers
 * and models, ~3% errors, ~10% cache hits (cost 0), durations with a long tail, metadata on most rows,
 * spread evenly over `--days` days up to `--end` (default now). One transaction, one prepared statement,
 * then one fold of the metadata rollup (src/store/sqlite/log-metadata.ts) over all of them, as its
 * migration does for the logs it finds. The numbers come from a seeded generator, so two runs with the
 * same arguments write the same rows.
 *
 * `seedLogs` is also what test/logs/analytics.test.ts would use for bulk data; the tests write their
 * hand-computed records through the real store instead.
 */
import type { Database, SQLQueryBindings } from "bun:sqlite";
import { parseArgs } from "node:util";
import { costOf, priceFor } from "../src/providers/prices.ts";
import { migrate, openDatabase } from "../src/store/sqlite/db.ts";
import { LOG_METADATA_MIGRATIONS, LogMetadataRollup } from "../src/store/sqlite/log-metadata.ts";
import { INSERT_LOG_SQL, LOG_MIGRATIONS } from "../src/store/sqlite/log-rows.ts";

export interface SeedOptions {
  rows: number;
  /** Rows end at this time (epoch ms) and start `days` before it. */
  endMs: number;
  days: number;
  /** Seed of the generator. @default 1 */
  seed?: number;
}

/** Gateways, with their share of traffic. */
export const SEED_GATEWAYS = ["prod", "staging", "batch"] as const;
const GATEWAY_WEIGHTS = [0.7, 0.2, 0.1];

const MODELS: readonly [provider: string, model: string, weight: number][] = [
  ["openai", "gpt-4o-mini", 0.25],
  ["openai", "gpt-4o", 0.1],
  ["openai", "gpt-5", 0.05],
  ["anthropic", "claude-sonnet-4-5", 0.15],
  ["anthropic", "claude-haiku-4-5", 0.1],
  ["google-ai-studio", "gemini-2.5-flash", 0.1],
  ["groq", "llama-3.3-70b-versatile", 0.08],
  ["mistral", "mistral-small-latest", 0.05],
  ["deepseek", "deepseek-chat", 0.05],
  ["workers-ai", "@cf/meta/llama-3.1-8b-instruct", 0.07],
];
const USERS = Array.from({ length: 50 }, (_, i) => `user-${i}`);
const TEAMS = ["search", "support", "growth", "infra"];

/** mulberry32: small, fast, good enough for test data. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[], weights: readonly number[]): T {
  let r = random();
  for (let i = 0; i < items.length; i++) {
    r -= weights[i];
    if (r < 0) return items[i];
  }
  return items[items.length - 1];
}

/**
 * Writes `options.rows` rows into `db` (migrating the logs and metadata-rollup schemas first), then folds
 * them into the rollup. Returns the time each part took, in ms.
 */
export function seedLogs(db: Database, options: SeedOptions): { insertMs: number; foldMs: number } {
  const started = performance.now();
  migrate(db, "logs", LOG_MIGRATIONS);
  migrate(db, "log_metadata", LOG_METADATA_MIGRATIONS);
  const random = generator(options.seed ?? 1);
  const insert = db.prepare<void, SQLQueryBindings[]>(INSERT_LOG_SQL);
  const span = options.days * 86_400_000;
  const startMs = options.endMs - span;
  const step = span / options.rows;
  const modelWeights = MODELS.map((m) => m[2]);
  const prices = new Map(MODELS.map(([provider, model]) => [model, priceFor(provider, model)]));
  db.transaction(() => {
    for (let i = 0; i < options.rows; i++) {
      const createdAt = Math.floor(startMs + i * step);
      const gateway = pick(random, SEED_GATEWAYS, GATEWAY_WEIGHTS);
      const [provider, model] = pick(random, MODELS, modelWeights);
      const failed = random() < 0.03;
      const cached = !failed && random() < 0.1;
      // Log-normal-ish: most answers in 0.3–2 s, a tail to ~30 s; cache hits in a few ms.
      const duration = cached ? 1 + Math.floor(random() * 8) : Math.min(60_000, Math.round(Math.exp(6.2 + random() * 1.6 + random() * random() * 2.5)));
      const tokensIn = failed ? null : 50 + Math.floor(random() ** 2 * 4000);
      const tokensOut = failed ? null : 10 + Math.floor(random() * 800);
      const cacheRead = tokensIn !== null && random() < 0.2 ? Math.floor(tokensIn * 0.5) : 0;
      const usage = { tokensIn, tokensOut, cacheReadTokens: cacheRead, cacheWriteTokens: 0 };
      const price = prices.get(model);
      const cost = cached ? 0 : price && !failed ? costOf(usage, price) : null;
      const status = failed ? (random() < 0.5 ? 429 : 500) : 200;
      const metadata = random() < 0.8 ? JSON.stringify({ user: USERS[Math.floor(random() * USERS.length)], team: TEAMS[Math.floor(random() * TEAMS.length)] }) : null;
      const id = `seed${String(i).padStart(22, "0")}`;
      insert.run(
        id, gateway, createdAt, provider, model, "chat/completions", "POST", status, failed ? 0 : 1, cached ? 1 : 0, 0,
        duration, Math.round(duration * 0.4), tokensIn, tokensOut, cacheRead, 0, cost, 0, metadata,
        `event-${i}`, "provider", "application/json", "application/json", 300 + Math.floor(random() * 4000), 400 + Math.floor(random() * 3000),
        "openai-node/5", null, failed ? 2005 : null, failed ? "upstream error" : null, 0, "[]",
      );
    }
  })();
  const inserted = performance.now();
  new LogMetadataRollup(db).fold();
  return { insertMs: inserted - started, foldMs: performance.now() - inserted };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      rows: { type: "string", default: "1000000" },
      db: { type: "string", default: "./data/bench-logs.db" },
      days: { type: "string", default: "30" },
      end: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("bun bench/seed-logs.ts [--rows 1000000] [--db ./data/bench-logs.db] [--days 30] [--end ISO]");
    process.exit(0);
  }
  const rows = Number(values.rows);
  const days = Number(values.days);
  const endMs = values.end ? Date.parse(values.end) : Date.now();
  if (!Number.isInteger(rows) || rows < 1 || !(days > 0) || Number.isNaN(endMs)) {
    console.error("--rows must be a positive integer, --days a positive number, --end an ISO date");
    process.exit(2);
  }
  const db = openDatabase(values.db!);
  const { insertMs, foldMs } = seedLogs(db, { rows, endMs, days });
  const analyzeStarted = performance.now();
  // Statistics for the query planner, as a long-running gateway file would have after PRAGMA optimize.
  db.run("ANALYZE");
  db.close();
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`${rows} rows into ${values.db} in ${seconds(insertMs)} (+ metadata rollup ${seconds(foldMs)}, ANALYZE ${seconds(performance.now() - analyzeStarted)})`);
}
