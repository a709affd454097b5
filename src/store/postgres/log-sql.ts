import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import { FILTER_KEY_NAMES, likePattern, ORDER_KEY_NAMES } from "../sqlite/log-sql.ts";
import type { LogFilter } from "../types.ts";
import { filterColumns, OPERATORS, type FilterKind, type Operator, type Value } from "../log-filter-keys.ts";

/**
 * The logs API's query language (Cloudflare's `filters`, `order_by`, `search`) as PostgreSQL over the
 * `logs` table, answering exactly as the SQLite store does (sqlite/log-sql.ts: the same keys, operators,
 * coercions and messages). SQL text comes only from the fixed maps below; every value is a bound
 * parameter (`$n`, collected by {@link Params}).
 *
 * SQLite's semantics, kept here: `LIKE` folds ASCII case only (ILIKE under the "C" collation), `neq` is
 * null-safe (`IS NOT` → `IS DISTINCT FROM`), NULLs sort first ascending and last descending.
 */

type Kind = FilterKind;

/** Bound values of one statement; `add` answers the placeholder. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

const FILTER_KEYS = filterColumns({
  model_type: "NULL::text",
  tokens: "(COALESCE(logs.tokens_in, 0) + COALESCE(logs.tokens_out, 0))",
  // Metadata filters are built apart (metadataCondition): jsonb operators, not one column.
  "metadata.key": "",
  "metadata.value": "",
});

/** Sort keys, and whether the column may be NULL (then NULLs go first ascending, as in SQLite). */
const ORDER_KEYS: Record<string, { expr: string; nullable: boolean }> = {
  created_at: { expr: "logs.created_at", nullable: false },
  provider: { expr: "logs.provider", nullable: false },
  model: { expr: "logs.model", nullable: true },
  model_type: { expr: "NULL::text", nullable: false },
  success: { expr: "logs.success", nullable: false },
  cached: { expr: "logs.cached", nullable: false },
  duration: { expr: "logs.duration", nullable: false },
  cost: { expr: "logs.cost", nullable: true },
  tokens_in: { expr: "logs.tokens_in", nullable: true },
  tokens_out: { expr: "logs.tokens_out", nullable: true },
  status_code: { expr: "logs.status_code", nullable: false },
  feedback: { expr: "logs.feedback", nullable: true },
};

const bad = (message: string) => new GatewayError(400, ErrorCode.BadRequest, message);

/** A number as a placeholder typed so that PostgreSQL compares it exactly (an int4 parameter would round 0.5). */
function numberParam(params: Params, n: number): string {
  return `${params.add(n)}::${Number.isSafeInteger(n) ? "int8" : "float8"}`;
}

function coerce(key: string, kind: Kind, value: Exclude<Value, null>, params: Params): string {
  switch (kind) {
    case "boolean": {
      if (value === true || value === "true" || value === 1 || value === "1") return `${params.add(true)}::boolean`;
      if (value === false || value === "false" || value === 0 || value === "0") return `${params.add(false)}::boolean`;
      throw bad(`Filter "${key}" expects true or false, got ${JSON.stringify(value)}`);
    }
    case "number": {
      const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
      if (!Number.isFinite(n)) throw bad(`Filter "${key}" expects a number, got ${JSON.stringify(value)}`);
      return numberParam(params, n);
    }
    case "date": {
      const ms = typeof value === "number" ? value : /^\d+$/.test(String(value)) ? Number(value) : Date.parse(String(value));
      if (!Number.isFinite(ms)) throw bad(`Filter "${key}" expects an ISO 8601 date or epoch milliseconds, got ${JSON.stringify(value)}`);
      return numberParam(params, ms);
    }
    default:
      return `${params.add(String(value))}::text`;
  }
}

/**
 * A jsonpath that holds when some metadata value equals `text` as the SQLite store compares them (as
 * text: a string itself, a number as SQLite prints it, which is the same text only for plain decimals,
 * a boolean as `true` / `false`), with its variables. The path is one of a few constants; `text` travels
 * only in the variables.
 */
function valuePath(text: string): { path: string; vars: string } {
  const vars: Record<string, string | number | boolean> = { s: text };
  let path = "$.* ? (@ == $s";
  if (/^-?\d+(\.\d+)?$/.test(text) && String(Number(text)) === text) {
    vars.n = Number(text);
    path += " || @ == $n";
  }
  if (text === "true" || text === "false") {
    vars.b = text === "true";
    path += " || @ == $b";
  }
  return { path: `${path})`, vars: JSON.stringify(vars) };
}

/**
 * Metadata keys and values as the SQLite store's json_each sees them. Equality uses jsonb operators (`?`,
 * a jsonpath), ~3× faster than expanding every row's metadata; `contains` looks at each key or value as text.
 */
function metadataCondition(key: string, kind: Kind, operator: Operator, value: Value, params: Params): string {
  if (value === null) throw bad(`Filter "${key}" needs a non-null value`);
  const text = String(value);
  if (operator === "contains") {
    // jsonb_each_text answers in the database's default collation; "C" folds case as SQLite's LIKE does.
    const column = kind === "metadataKey" ? `m.key COLLATE "C"` : `m.value COLLATE "C"`;
    return `EXISTS (SELECT 1 FROM jsonb_each_text(logs.metadata) m WHERE ${column} ILIKE ${params.add(likePattern(text))}::text ESCAPE '\\')`;
  }
  let test: string;
  if (kind === "metadataKey") test = `logs.metadata ? ${params.add(text)}::text`;
  else {
    const { path, vars } = valuePath(text);
    test = `jsonb_path_exists(logs.metadata, ${params.add(path)}::jsonpath, ${params.add(vars)}::text::jsonb)`;
  }
  // No metadata at all is "not equal" (SQLite: NOT EXISTS over no rows), not unknown.
  return operator === "neq" ? `NOT COALESCE(${test}, false)` : `COALESCE(${test}, false)`;
}

function condition(key: string, expr: string, kind: Kind, operator: Operator, value: Value, params: Params): string {
  if (kind === "metadataKey" || kind === "metadataValue") return metadataCondition(key, kind, operator, value, params);
  if (value === null) {
    if (operator === "eq") return `${expr} IS NULL`;
    if (operator === "neq") return `${expr} IS NOT NULL`;
    throw bad(`Filter "${key}" with operator "${operator}" needs a non-null value`);
  }
  if (operator === "contains") return `${expr} ILIKE ${params.add(likePattern(String(value)))}::text ESCAPE '\\'`;
  const sqlOperator = { eq: "=", neq: "IS DISTINCT FROM", lt: "<", gt: ">" }[operator];
  return `${expr} ${sqlOperator} ${coerce(key, kind, value, params)}`;
}

/** One filter; several values are alternatives (OR), except for `neq`, where all are excluded (AND). */
function filterSql(filter: LogFilter, params: Params): string {
  const spec = FILTER_KEYS[filter.key];
  if (!spec) throw bad(`Unknown filter key "${filter.key}"; allowed keys: ${FILTER_KEY_NAMES.join(", ")}`);
  const allowed = OPERATORS[spec.kind];
  if (!allowed.includes(filter.operator)) {
    throw bad(`Operator "${filter.operator}" is not allowed for filter key "${filter.key}"; allowed operators: ${allowed.join(", ")}`);
  }
  if (filter.value.length === 0) throw bad(`Filter "${filter.key}" needs at least one value`);
  const parts = filter.value.map((value) => condition(filter.key, spec.expr, spec.kind, filter.operator, value, params));
  return `(${parts.join(filter.operator === "neq" ? " AND " : " OR ")})`;
}

/** Free-text search over the fields a person would type: id, model, provider, path, event id, metadata. */
function searchSql(search: string, params: Params): string {
  const pattern = `${params.add(likePattern(search))}::text`;
  const columns = ["logs.id", "logs.model", "logs.provider", "logs.path", "logs.event_id", "logs.metadata_text"];
  return `(${columns.map((c) => `${c} ILIKE ${pattern} ESCAPE '\\'`).join(" OR ")})`;
}

/**
 * The WHERE clause (without `WHERE`) for one gateway's logs, its filters (all must hold) and an optional
 * search; the values go into `params`. Throws a 400 `GatewayError` naming what is wrong.
 */
export function whereSql(gatewayId: string, filters: readonly LogFilter[], params: Params, search?: string): string {
  const parts = [`logs.gateway_id = ${params.add(gatewayId)}::text`, ...filters.map((filter) => filterSql(filter, params))];
  if (search) parts.push(searchSql(search, params));
  return parts.join(" AND ");
}

/** `ORDER BY …` with the insertion order (`seq`) as tie-breaker, so pages never overlap. */
export function orderSql(orderBy: string, direction: "asc" | "desc"): string {
  const key = ORDER_KEYS[orderBy];
  if (!key) throw bad(`Unknown order_by "${orderBy}"; allowed: ${ORDER_KEY_NAMES.join(", ")}`);
  if (direction !== "asc" && direction !== "desc") throw bad(`Unknown order_by_direction "${String(direction)}"; allowed: asc, desc`);
  const dir = direction.toUpperCase();
  const nulls = key.nullable ? (direction === "asc" ? " NULLS FIRST" : " NULLS LAST") : "";
  return `ORDER BY ${key.expr} ${dir}${nulls}, logs.seq ${dir}`;
}
