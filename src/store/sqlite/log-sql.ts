import type { SQLQueryBindings } from "bun:sqlite";
import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import type { LogFilter } from "../types.ts";
import { filterColumns, OPERATORS, type FilterKind, type Operator, type Value } from "../log-filter-keys.ts";

/**
 * The logs API's query language (Cloudflare's `filters`, `order_by`, `search`) turned into
 * parameterised SQL over the `logs` table. Values are only ever bound, never spliced.
 */

type Kind = FilterKind;

/** A WHERE fragment and its bound values. */
export interface SqlPart {
  sql: string;
  params: SQLQueryBindings[];
}

const FILTER_KEYS = filterColumns({
  model_type: "NULL",
  tokens: "(COALESCE(logs.tokens_in, 0) + COALESCE(logs.tokens_out, 0))",
  "metadata.key": "key",
  // json_each gives booleans as 1/0; compare them as the words a client sends.
  "metadata.value": "(CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(value AS TEXT) END)",
});

const ORDER_KEYS: Record<string, string> = {
  created_at: "logs.created_at",
  provider: "logs.provider",
  model: "logs.model",
  model_type: "NULL",
  success: "logs.success",
  cached: "logs.cached",
  duration: "logs.duration",
  cost: "logs.cost",
  tokens_in: "logs.tokens_in",
  tokens_out: "logs.tokens_out",
  status_code: "logs.status_code",
  feedback: "logs.feedback",
};

/** Filter keys the logs API accepts. */
export const FILTER_KEY_NAMES: readonly string[] = Object.keys(FILTER_KEYS);
/** `order_by` values the logs API accepts. */
export const ORDER_KEY_NAMES: readonly string[] = Object.keys(ORDER_KEYS);

const bad = (message: string) => new GatewayError(400, ErrorCode.BadRequest, message);

/** `contains` pattern: the value's own `%`, `_` and `\` match literally. */
export const likePattern = (value: string) => `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function coerce(key: string, kind: Kind, value: Exclude<Value, null>): SQLQueryBindings {
  switch (kind) {
    case "boolean": {
      if (value === true || value === "true" || value === 1 || value === "1") return 1;
      if (value === false || value === "false" || value === 0 || value === "0") return 0;
      throw bad(`Filter "${key}" expects true or false, got ${JSON.stringify(value)}`);
    }
    case "number": {
      const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
      if (!Number.isFinite(n)) throw bad(`Filter "${key}" expects a number, got ${JSON.stringify(value)}`);
      return n;
    }
    case "date": {
      const ms = typeof value === "number" ? value : /^\d+$/.test(String(value)) ? Number(value) : Date.parse(String(value));
      if (!Number.isFinite(ms)) throw bad(`Filter "${key}" expects an ISO 8601 date or epoch milliseconds, got ${JSON.stringify(value)}`);
      return ms;
    }
    default:
      return String(value);
  }
}

function condition(key: string, expr: string, kind: Kind, operator: Operator, value: Value): SqlPart {
  if (kind === "metadataKey" || kind === "metadataValue") {
    if (value === null) throw bad(`Filter "${key}" needs a non-null value`);
    const test = operator === "contains" ? `${expr} LIKE ? ESCAPE '\\'` : `${expr} = ?`;
    const param = operator === "contains" ? likePattern(String(value)) : String(value);
    const exists = `EXISTS (SELECT 1 FROM json_each(logs.metadata) WHERE ${test})`;
    return { sql: operator === "neq" ? `NOT ${exists}` : exists, params: [param] };
  }
  if (value === null) {
    if (operator === "eq") return { sql: `${expr} IS NULL`, params: [] };
    if (operator === "neq") return { sql: `${expr} IS NOT NULL`, params: [] };
    throw bad(`Filter "${key}" with operator "${operator}" needs a non-null value`);
  }
  if (operator === "contains") return { sql: `${expr} LIKE ? ESCAPE '\\'`, params: [likePattern(String(value))] };
  const sqlOperator = { eq: "=", neq: "IS NOT", lt: "<", gt: ">" }[operator];
  return { sql: `${expr} ${sqlOperator} ?`, params: [coerce(key, kind, value)] };
}

/**
 * One filter as SQL. Several values of one filter are alternatives (OR); for `neq` they are all
 * excluded (AND), since "not a or not b" would match every row.
 */
function filterSql(filter: LogFilter): SqlPart {
  const spec = FILTER_KEYS[filter.key];
  if (!spec) throw bad(`Unknown filter key "${filter.key}"; allowed keys: ${FILTER_KEY_NAMES.join(", ")}`);
  const allowed = OPERATORS[spec.kind];
  if (!allowed.includes(filter.operator)) {
    throw bad(`Operator "${filter.operator}" is not allowed for filter key "${filter.key}"; allowed operators: ${allowed.join(", ")}`);
  }
  if (filter.value.length === 0) throw bad(`Filter "${filter.key}" needs at least one value`);
  const parts = filter.value.map((value) => condition(filter.key, spec.expr, spec.kind, filter.operator, value));
  const joiner = filter.operator === "neq" ? " AND " : " OR ";
  return { sql: `(${parts.map((p) => p.sql).join(joiner)})`, params: parts.flatMap((p) => p.params) };
}

/** Free-text search over the fields a person would type: id, model, provider, path, event id, metadata. */
function searchSql(search: string): SqlPart {
  const columns = ["logs.id", "logs.model", "logs.provider", "logs.path", "logs.event_id", "logs.metadata"];
  const pattern = likePattern(search);
  return { sql: `(${columns.map((c) => `${c} LIKE ? ESCAPE '\\'`).join(" OR ")})`, params: columns.map(() => pattern) };
}

/** The WHERE clause (without `WHERE`) for one gateway's logs, its filters (all must hold) and an optional search. */
export function whereSql(gatewayId: string, filters: readonly LogFilter[], search?: string): SqlPart {
  const parts: SqlPart[] = [{ sql: "logs.gateway_id = ?", params: [gatewayId] }, ...filters.map(filterSql)];
  if (search) parts.push(searchSql(search));
  return { sql: parts.map((p) => p.sql).join(" AND "), params: parts.flatMap((p) => p.params) };
}

/**
 * `ORDER BY …` with the rowid as tie-breaker, so pages never overlap. The rowid (insertion order, which
 * is the ULID order) rather than the id: every index carries it, so the default order reads
 * `(gateway_id, created_at)` without a sort.
 */
export function orderSql(orderBy: string, direction: "asc" | "desc"): string {
  const expr = ORDER_KEYS[orderBy];
  if (!expr) throw bad(`Unknown order_by "${orderBy}"; allowed: ${ORDER_KEY_NAMES.join(", ")}`);
  if (direction !== "asc" && direction !== "desc") throw bad(`Unknown order_by_direction "${String(direction)}"; allowed: asc, desc`);
  const dir = direction.toUpperCase();
  return `ORDER BY ${expr} ${dir}, logs.rowid ${dir}`;
}
