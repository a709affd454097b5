import type { ResolvedConfig } from "../config/defaults.ts";
import { loadConfig } from "../config/loader.ts";
import type { LogFilter, LogRow } from "../store/types.ts";
import { booleanFlag, stringFlag, UsageError, type Args, type Command } from "./args.ts";
import { CONFIG_FLAG, JSON_FLAG, requireGateway } from "./common.ts";
import { openLogReader, SqliteLogReader, type LogReader, type SequencedLog } from "./log-reader.ts";
import { usd } from "./stats.ts";
import { columnWidths, formatRow, type Align } from "./table.ts";

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 10_000;
/** How often `--follow` looks for new logs. */
const POLL_MS = 500;

/** `switchboard logs`: one gateway's recent logs, newest last, read-only from the config's SQLite file or PostgreSQL; `--follow` tails them. */
export const logsCommand: Command = {
  name: "logs",
  synopsis: "[--config PATH] [--gateway ID] [--follow] [--limit N] [--provider P] [--model M] [--status N] [--success true|false] [--json]",
  summary: "recent logs as a table, newest last; --follow keeps printing new ones until Ctrl-C",
  flags: {
    config: CONFIG_FLAG,
    gateway: { type: "string", value: "ID", help: "whose logs (default: default)" },
    follow: { type: "boolean", short: "f", help: `keep printing logs as they are stored (checks every ${POLL_MS} ms) until SIGINT` },
    limit: { type: "string", value: "N", help: `how many recent logs to print first (default ${DEFAULT_LIMIT}, at most ${MAX_LIMIT})` },
    provider: { type: "string", value: "P", help: "only this provider's logs, e.g. openai" },
    model: { type: "string", value: "M", help: "only this model's logs" },
    status: { type: "string", value: "N", help: "only logs with this HTTP status, e.g. 429" },
    success: { type: "string", value: "true|false", help: "only successful, or only failed, requests" },
    json: { ...JSON_FLAG, help: "print one JSON object per log and line (the logs API's fields)" },
  },
  run: logs,
};

/** The flags as the logs API's filters, checked before anything is opened. */
function readFilters(args: Args): LogFilter[] {
  const filters: LogFilter[] = [];
  const eq = (key: string, value: string | number | boolean) => filters.push({ key, operator: "eq", value: [value] });
  const provider = stringFlag(args, "provider");
  const model = stringFlag(args, "model");
  const status = stringFlag(args, "status");
  const success = stringFlag(args, "success");
  if (provider !== undefined) eq("provider", provider);
  if (model !== undefined) eq("model", model);
  if (status !== undefined) {
    if (!/^[1-5]\d\d$/.test(status)) throw new UsageError(`--status must be an HTTP status from 100 to 599; got "${status}"`, logsCommand);
    eq("status_code", Number(status));
  }
  if (success !== undefined) {
    if (success !== "true" && success !== "false") throw new UsageError(`--success must be true or false; got "${success}"`, logsCommand);
    eq("success", success === "true");
  }
  return filters;
}

function readLimit(args: Args): number {
  const text = stringFlag(args, "limit");
  if (text === undefined) return DEFAULT_LIMIT;
  const limit = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) throw new UsageError(`--limit must be a whole number from 1 to ${MAX_LIMIT}; got "${text}"`, logsCommand);
  return limit;
}

async function logs(args: Args): Promise<void> {
  const filters = readFilters(args);
  const limit = readLimit(args);
  const json = booleanFlag(args, "json");
  const gatewayId = stringFlag(args, "gateway") ?? "default";
  const config = await loadConfig(stringFlag(args, "config"));
  requireGateway(config, gatewayId);
  const reader = await openLogReader(config);
  try {
    const first = await reader.recent(gatewayId, filters, limit);
    const printer = json ? jsonPrinter() : tablePrinter(first.map((log) => log.row));
    if (!booleanFlag(args, "follow")) {
      if (first.length === 0 && !json) console.log(`No logs for gateway "${gatewayId}"${filters.length ? " that match" : ""}.`);
      else printer(first);
      return;
    }
    printer(first);
    await follow(config, reader, gatewayId, filters, first.at(-1)?.seq ?? 0, printer);
  } finally {
    await reader.close();
  }
}

/** Prints logs stored after `seq` every `POLL_MS` until SIGINT or SIGTERM. */
async function follow(config: ResolvedConfig, opened: LogReader, gatewayId: string, filters: LogFilter[], seq: number, print: (logs: SequencedLog[]) => void): Promise<void> {
  const stop = Promise.withResolvers<void>();
  let stopped = false;
  const onSignal = () => {
    stopped = true;
    stop.resolve();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let reader = opened;
  try {
    while (!stopped) {
      // A file without a logs table when opened gets one with the gateway's first log: look again.
      if (reader.empty) {
        const fresh = SqliteLogReader.open(config);
        if (fresh.empty) await fresh.close();
        else reader = fresh;
      }
      for (let batch = await reader.after(gatewayId, filters, seq, 1000); batch.length > 0; batch = await reader.after(gatewayId, filters, seq, 1000)) {
        print(batch);
        seq = batch.at(-1)!.seq;
      }
      let timer: Timer | undefined;
      await Promise.race([stop.promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, POLL_MS)))]);
      clearTimeout(timer);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (reader !== opened) await reader.close();
  }
}

function jsonPrinter(): (logs: SequencedLog[]) => void {
  return (logs) => {
    for (const { row } of logs) console.log(JSON.stringify(row));
  };
}

const HEADER = ["ID", "TIME", "PROVIDER", "MODEL", "STATUS", "TOKENS", "COST", "DURATION"];
const ALIGN: Align[] = ["left", "left", "left", "left", "left", "right", "right", "right"];
/** Widths `--follow` starts from, so later rows mostly line up with the first ones. */
const MIN_WIDTHS = [26, 20, 10, 20, 6, 9, 9, 8];

function cells(row: LogRow): string[] {
  const tokens = row.tokens_in === null && row.tokens_out === null ? "-" : `${row.tokens_in ?? 0}/${row.tokens_out ?? 0}`;
  return [
    row.id,
    row.created_at.replace(/\.\d{3}Z$/, "Z"),
    row.provider,
    row.model ?? "-",
    `${row.status_code}${row.cached ? " cached" : ""}`,
    tokens,
    row.cost === null ? "-" : usd(row.cost),
    `${row.duration} ms`,
  ];
}

/** A header sized to the first rows, then each batch of rows padded to it. */
function tablePrinter(first: LogRow[]): (logs: SequencedLog[]) => void {
  const widths = columnWidths([HEADER, ...first.map(cells)], MIN_WIDTHS);
  let headed = false;
  return (logs) => {
    if (!headed) console.log(formatRow(HEADER, widths, ALIGN));
    headed = true;
    for (const { row } of logs) console.log(formatRow(cells(row), widths, ALIGN));
  };
}
