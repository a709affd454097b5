import { loadConfig } from "../config/loader.ts";
import { booleanFlag, stringFlag, UsageError, type Args, type Command } from "./args.ts";
import { CONFIG_FLAG, JSON_FLAG, requireGateway } from "./common.ts";
import type { ResolvedBudget } from "../config/defaults.ts";
import { openLogReader, type LogReader, type LogTotals, type ModelTotals } from "./log-reader.ts";
import { table } from "./table.ts";

/** How many models the table lists. */
const TOP_MODELS = 10;
const DEFAULT_SINCE = "24h";

/** `switchboard stats`: totals and top models of one gateway's logs, read-only from the config's SQLite file or PostgreSQL. */
export const statsCommand: Command = {
  name: "stats",
  synopsis: "[--config PATH] [--gateway ID] [--since 24h|7d|90m|ISO] [--json]",
  summary: "totals (requests, errors, cache hits, tokens, cost, p50/p95 duration) and top models from the logs",
  flags: {
    config: CONFIG_FLAG,
    gateway: { type: "string", value: "ID", help: "whose logs (default: default)" },
    since: { type: "string", value: "WHEN", help: `a duration back from now (90m, 24h, 7d, 4w) or an ISO 8601 date; default ${DEFAULT_SINCE}` },
    json: JSON_FLAG,
  },
  run: stats,
};

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * Reads `--since`: `90m`, `24h`, `7d`, `4w` back from `now`, or an ISO 8601 date / date-time in the past.
 * @returns epoch ms
 */
export function parseSince(text: string, now = Date.now()): number {
  const duration = /^(\d+)(m|h|d|w)$/.exec(text);
  if (duration) {
    const amount = Number(duration[1]);
    if (amount < 1) throw new UsageError(`--since "${text}" must be at least 1${duration[2]}`, statsCommand);
    return Math.max(0, now - amount * UNIT_MS[duration[2] as keyof typeof UNIT_MS]);
  }
  const at = ISO.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(at)) throw new UsageError(`--since "${text}" must be a duration (90m, 24h, 7d, 4w) or an ISO 8601 date such as 2026-01-01`, statsCommand);
  if (at > now) throw new UsageError(`--since "${text}" is in the future`, statsCommand);
  return at;
}

async function stats(args: Args): Promise<void> {
  const end = Date.now();
  const start = parseSince(stringFlag(args, "since") ?? DEFAULT_SINCE, end);
  const gatewayId = stringFlag(args, "gateway") ?? "default";
  const config = await loadConfig(stringFlag(args, "config"));
  requireGateway(config, gatewayId);
  const reader = await openLogReader(config);
  let totals: LogTotals, models: ModelTotals[], budgets: BudgetSpend[];
  try {
    totals = await reader.totals(gatewayId, start, end);
    models = await reader.topModels(gatewayId, start, end, TOP_MODELS);
    budgets = await budgetSpend(reader, config.gateways.get(gatewayId)!.budgets, gatewayId, end);
  } finally {
    await reader.close();
  }
  const window = { gateway: gatewayId, since: new Date(start).toISOString(), until: new Date(end).toISOString() };
  if (booleanFlag(args, "json")) {
    const { cached, ...rest } = totals;
    console.log(JSON.stringify({ ...window, totals: { ...rest, cached, cache_hit_rate: totals.requests ? cached / totals.requests : 0 }, models, budgets }));
    return;
  }
  console.log(`Gateway "${gatewayId}", ${window.since} to ${window.until}\n`);
  console.log(totalsTable(totals));
  console.log(models.length ? `\nTop models\n${modelsTable(models)}` : "\nNo requests in this window.");
  if (budgets.length) console.log(`\nBudgets (spend settled in each rule's current window, from the logs)\n${budgetsTable(budgets)}`);
}

/** One bucket of a budget rule in its current window. */
export interface BudgetSpend {
  name: string;
  bucket: string;
  usd: number;
  spent: number;
  window_start: string;
  resets_at: string;
}

/**
 * The spend of every budget rule's buckets in the rule's current window, read from the logs: what
 * the gateway has settled (in-flight reservations live only in the running gateway; its admin API
 * shows them). Fixed windows are clock-aligned; a sliding one adds the previous window's spend,
 * weighted by how much of it still overlaps, as the plugin does.
 */
async function budgetSpend(reader: LogReader, rules: readonly ResolvedBudget[], gatewayId: string, now: number): Promise<BudgetSpend[]> {
  const out: BudgetSpend[] = [];
  for (const rule of rules) {
    const ms = rule.intervalSeconds * 1000;
    const start = Math.floor(now / ms) * ms;
    const spent = new Map<string, number>();
    // Buckets named as the admin API names them: `gateway`, `token=<id>`, `metadata:team=<value>`.
    const label = (value: string) => (rule.key === "gateway" ? "gateway" : `${rule.key}=${value}`);
    for (const { bucket, spent: usd } of await reader.spend(gatewayId, rule, start, now)) spent.set(label(bucket), usd);
    if (rule.sliding) {
      const weight = 1 - (now - start) / ms;
      for (const { bucket, spent: usd } of await reader.spend(gatewayId, rule, start - ms, start)) spent.set(label(bucket), (spent.get(label(bucket)) ?? 0) + usd * weight);
    }
    for (const [bucket, usd] of spent) {
      out.push({ name: rule.name, bucket, usd: rule.usd, spent: Math.round(usd * 1e10) / 1e10, window_start: new Date(start).toISOString(), resets_at: new Date(start + ms).toISOString() });
    }
  }
  return out;
}

function budgetsTable(rows: BudgetSpend[]): string {
  return table([["rule", "bucket", "spent", "limit", "resets"], ...rows.map((b) => [b.name, b.bucket, usd(b.spent), usd(b.usd), b.resets_at])]);
}

const count = (n: number) => n.toLocaleString("en-US");
/** USD with enough digits to show what a few cheap requests cost. */
export const usd = (n: number) => `$${n >= 1 ? n.toFixed(2) : n.toFixed(6)}`;
const ms = (n: number | null) => (n === null ? "-" : `${count(n)} ms`);
const percent = (part: number, whole: number) => (whole === 0 ? "-" : `${((100 * part) / whole).toFixed(1)}%`);

function totalsTable(t: LogTotals): string {
  return table(
    [
      ["requests", count(t.requests)],
      ["errors", `${count(t.errors)} (${percent(t.errors, t.requests)})`],
      ["cache hits", `${count(t.cached)} (${percent(t.cached, t.requests)})`],
      ["tokens in", count(t.tokens_in)],
      ["tokens out", count(t.tokens_out)],
      ["cost", usd(t.cost)],
      ["duration p50", ms(t.duration_p50)],
      ["duration p95", ms(t.duration_p95)],
    ],
    ["left", "right"],
  );
}

function modelsTable(models: ModelTotals[]): string {
  const rows = [["PROVIDER", "MODEL", "REQUESTS", "TOKENS IN", "TOKENS OUT", "COST"]];
  for (const m of models) rows.push([m.provider, m.model ?? "-", count(m.requests), count(m.tokens_in), count(m.tokens_out), usd(m.cost)]);
  return table(rows, ["left", "left", "right", "right", "right", "right"]);
}
