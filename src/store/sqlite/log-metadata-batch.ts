import type { SQLQueryBindings } from "bun:sqlite";
import { LOG_COLUMN } from "./log-rows.ts";
import { DIMENSION_KEYS, ROLLUP_HOUR_MS } from "./log-metadata.ts";

/*
 * The hourly metadata rollup of one batch, summed in JS from the values the writer just bound instead of
 * read back and grouped by SQLite (≈ 1.5 µs of writer CPU per record less; bench/metadata-writes.ts).
 * `LogMetadataRollup` uses it when the batch alone is to be folded; see log-metadata.ts.
 */

type Value = string | number;
interface Counters {
  requests: number;
  errors: number;
  tokensIn: number;
  tokensOut: number;
  cost: number;
}

const { gateway_id: GATEWAY, created_at: CREATED_AT, provider: PROVIDER, model: MODEL, success: SUCCESS, cached: CACHED } = LOG_COLUMN;
const { tokens_in: TOKENS_IN, tokens_out: TOKENS_OUT, cost: COST, metadata: METADATA } = LOG_COLUMN;

/**
 * The rollup rows (`gateway_id, key, hour, value` and counters) `logs` add, summed from the values bound
 * for them (`logParams`): what `FOLD_SQL` and `FOLD_DIMENSIONS_SQL` add for the same logs. A value is
 * keyed as `json_each` gives it only where JS is sure to agree: strings (when the metadata's JSON has no
 * escape: `JSON.stringify` escapes control characters and lone surrogates), booleans as 1/0, integers
 * up to 2^53. Anything else (a fraction, a bigger integer, an object, an array) gives null: the batch
 * is then for the SQL fold.
 */
export function batchRollupRows(logs: readonly (readonly SQLQueryBindings[])[]): SQLQueryBindings[][] | null {
  const sums = new BatchSums();
  for (const log of logs) if (!sums.add(log)) return null;
  return sums.rows();
}

/** `batchRollupRows`'s sums, by gateway, hour, key and value. */
class BatchSums {
  /** gateway → hour → key → value → counters. */
  private readonly sums = new Map<string, Map<number, Map<string, Map<Value, Counters>>>>();
  private lastGateway: string | null = null;
  private lastHour = -1;
  private keys: Map<string, Map<Value, Counters>> | null = null;

  /** `ADD_ROW_SQL` values for each row. */
  rows(): SQLQueryBindings[][] {
    const rows: SQLQueryBindings[][] = [];
    for (const [gateway, hours] of this.sums) {
      for (const [hour, keys] of hours) {
        for (const [key, values] of keys) {
          for (const [value, c] of values) rows.push([gateway, key, hour, value, c.requests, c.errors, c.tokensIn, c.tokensOut, c.cost]);
        }
      }
    }
    return rows;
  }

  /** Adds one log; false if one of its values is not for JS to key. */
  add(log: readonly SQLQueryBindings[]): boolean {
    const gateway = log[GATEWAY];
    const createdAt = log[CREATED_AT];
    const provider = log[PROVIDER];
    const model = log[MODEL];
    const metadata = log[METADATA];
    if (typeof gateway !== "string" || typeof provider !== "string" || (model !== null && typeof model !== "string")) return false;
    if (typeof createdAt !== "number" || !Number.isSafeInteger(createdAt)) return false;
    let entries: Record<string, unknown> | null = null;
    if (metadata !== null) {
      if (typeof metadata !== "string" || metadata.includes("\\")) return false;
      const parsed: unknown = JSON.parse(metadata);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return false;
      entries = parsed as Record<string, unknown>;
    }
    // SQL's integer division truncates toward zero; so does this, exactly.
    const keys = this.keysOf(gateway, (createdAt - (createdAt % ROLLUP_HOUR_MS)) / ROLLUP_HOUR_MS);
    const errors = log[SUCCESS] === 0 ? 1 : 0;
    const tokensIn = (log[TOKENS_IN] as number | null) ?? 0;
    const tokensOut = (log[TOKENS_OUT] as number | null) ?? 0;
    const cost = log[CACHED] === 1 ? 0 : ((log[COST] as number | null) ?? 0);
    const count = (key: string, value: Value) => {
      let values = keys.get(key);
      if (!values) keys.set(key, (values = new Map()));
      const c = values.get(value);
      if (!c) return void values.set(value, { requests: 1, errors, tokensIn, tokensOut, cost });
      c.requests++;
      c.errors += errors;
      c.tokensIn += tokensIn;
      c.tokensOut += tokensOut;
      c.cost += cost;
    };
    count(DIMENSION_KEYS.provider, provider);
    if (model !== null) count(DIMENSION_KEYS.model, model);
    for (const key in entries) {
      const value = entries[key];
      if (value === null) continue;
      if (typeof value === "string") count(key, value);
      else if (typeof value === "boolean") count(key, value ? 1 : 0);
      else if (typeof value === "number" && Number.isSafeInteger(value) && !Object.is(value, -0)) count(key, value);
      else return false;
    }
    return true;
  }

  private keysOf(gateway: string, hour: number): Map<string, Map<Value, Counters>> {
    if (this.keys && gateway === this.lastGateway && hour === this.lastHour) return this.keys;
    let hours = this.sums.get(gateway);
    if (!hours) this.sums.set(gateway, (hours = new Map()));
    let keys = hours.get(hour);
    if (!keys) hours.set(hour, (keys = new Map()));
    this.lastGateway = gateway;
    this.lastHour = hour;
    return (this.keys = keys);
  }
}
