import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import type { LogDeleteOptions, LogFilter, LogQuery } from "../../store/types.ts";

/**
 * Query-string parsing for the logs API, in every encoding clients use:
 * - the `cloudflare` SDK (qs `allowDots` + `arrayFormat: "repeat"`):
 *   `filters.key=provider&filters.operator=eq&filters.value=openai&filters.value=groq&filters.key=…`;
 *   a `null` value arrives as an empty `filters.value=`;
 * - brackets: `filters[0][key]=…&filters[0][operator]=…&filters[0][value][0]=…`;
 * - JSON: `filters=[{"key":"provider","operator":"eq","value":["openai"]}]`.
 * Filters from all three are combined. Value types are checked and coerced by the store.
 */

/** Cloudflare's maximum page size for the logs API. */
export const MAX_PER_PAGE = 50;
export const DEFAULT_PER_PAGE = 20;

const OPERATORS: readonly LogFilter["operator"][] = ["eq", "neq", "contains", "lt", "gt"];
type Value = LogFilter["value"][number];

/** Deprecated flat parameters (`?provider=openai`) still sent by older SDKs; each becomes an `eq` filter. */
const LEGACY_EQ_PARAMS = ["provider", "model", "model_type", "success", "cached", "feedback", "request_content_type", "response_content_type"];

const bad = (message: string) => new GatewayError(400, ErrorCode.BadRequest, message);

interface Draft {
  key: string;
  operator?: string;
  value: Value[];
}

function finish(draft: Draft, where: string): LogFilter {
  if (draft.operator === undefined) throw bad(`${where}: filter "${draft.key}" has no operator; allowed: ${OPERATORS.join(", ")}`);
  if (!OPERATORS.includes(draft.operator as LogFilter["operator"])) {
    throw bad(`${where}: unknown operator "${draft.operator}" for filter "${draft.key}"; allowed: ${OPERATORS.join(", ")}`);
  }
  return { key: draft.key, operator: draft.operator as LogFilter["operator"], value: draft.value };
}

const queryValue = (raw: string): Value => (raw === "" ? null : raw);

/**
 * Dotted triples. Operators pair with keys by position. Values belong to the filter whose key came
 * last before them (so one filter may carry several), except when every value comes after every key
 * (`key,key,operator,operator,value,value`): then values pair with keys by position too.
 */
function dottedFilters(params: URLSearchParams): LogFilter[] {
  const drafts: Draft[] = [];
  const values: { owner: number; value: Value }[] = [];
  let operators = 0;
  for (const [name, raw] of params) {
    if (name === "filters.key") drafts.push({ key: raw, value: [] });
    else if (name === "filters.operator") {
      if (operators >= drafts.length) throw bad(`filters.operator "${raw}" comes before its filters.key`);
      drafts[operators++].operator = raw;
    } else if (name === "filters.value") {
      if (drafts.length === 0) throw bad("filters.value comes before any filters.key");
      values.push({ owner: drafts.length - 1, value: queryValue(raw) });
    }
  }
  const allAfterLastKey = drafts.length > 1 && values.every((v) => v.owner === drafts.length - 1);
  if (allAfterLastKey && values.length === drafts.length) values.forEach((v, i) => drafts[i].value.push(v.value));
  else for (const v of values) drafts[v.owner].value.push(v.value);
  return drafts.map((d) => finish(d, "filters"));
}

/** `filters[0][key]`, `filters[0][operator]`, `filters[0][value]`, `filters[0][value][]`, `filters[0][value][3]`. */
function bracketFilters(params: URLSearchParams): LogFilter[] {
  const drafts = new Map<number, Partial<Draft> & { value: Value[] }>();
  for (const [name, raw] of params) {
    const match = /^filters\[(\d+)\]\[(key|operator|value)\](?:\[\d*\])?$/.exec(name);
    if (!match) continue;
    const index = Number(match[1]);
    const draft = drafts.get(index) ?? { value: [] };
    drafts.set(index, draft);
    if (match[2] === "value") draft.value.push(queryValue(raw));
    else draft[match[2] as "key" | "operator"] = raw;
  }
  return [...drafts.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, d]) => {
      if (d.key === undefined) throw bad(`filters[${index}] has no key`);
      return finish({ key: d.key, operator: d.operator, value: d.value }, `filters[${index}]`);
    });
}

const isValue = (v: unknown): v is Value => v === null || ["string", "number", "boolean"].includes(typeof v);

/** `filters=[{"key":…,"operator":…,"value":[…]}]`; a scalar `value` counts as a one-element list. */
function jsonFilters(raw: string): LogFilter[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw bad("filters is not valid JSON; expected an array of {key, operator, value}");
  }
  if (!Array.isArray(parsed)) throw bad("filters must be a JSON array of {key, operator, value}");
  return parsed.map((item: unknown, i) => {
    if (typeof item !== "object" || item === null || typeof (item as { key?: unknown }).key !== "string") {
      throw bad(`filters[${i}] must be an object with a string "key"`);
    }
    const { key, operator, value } = item as { key: string; operator?: unknown; value?: unknown };
    const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
    if (!values.every(isValue)) throw bad(`filters[${i}].value must hold strings, numbers, booleans or null`);
    return finish({ key, operator: typeof operator === "string" ? operator : undefined, value: values }, `filters[${i}]`);
  });
}

/** Every filter the query string carries, in any supported encoding. */
export function parseFilters(params: URLSearchParams): LogFilter[] {
  const filters = [...dottedFilters(params), ...bracketFilters(params)];
  for (const raw of params.getAll("filters")) filters.push(...jsonFilters(raw));
  for (const key of LEGACY_EQ_PARAMS) {
    const raw = params.get(key);
    if (raw !== null) filters.push({ key, operator: "eq", value: [raw] });
  }
  return filters;
}

function positiveInt(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) throw bad(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

function direction(params: URLSearchParams): "asc" | "desc" | undefined {
  const raw = params.get("order_by_direction") ?? params.get("direction");
  if (raw === null) return undefined;
  if (raw !== "asc" && raw !== "desc") throw bad(`order_by_direction must be asc or desc, got "${raw}"`);
  return raw;
}

/** `page` (default 1) and `per_page` (default 20; values above 50 are clamped to 50, as Cloudflare caps them). */
export function parsePaging(params: URLSearchParams): { page: number; perPage: number } {
  return { page: positiveInt(params, "page") ?? 1, perPage: Math.min(positiveInt(params, "per_page") ?? DEFAULT_PER_PAGE, MAX_PER_PAGE) };
}

/** `GET logs`: paging, filters, `search`, `order_by` (default created_at) and direction (default desc, newest first). */
export function parseLogQuery(params: URLSearchParams): LogQuery {
  const search = params.get("search") ?? undefined;
  return {
    ...parsePaging(params),
    filters: parseFilters(params),
    orderBy: params.get("order_by") ?? "created_at",
    direction: direction(params) ?? "desc",
    search: search === "" ? undefined : search,
  };
}

/** `DELETE logs`: filters plus an optional `limit` taken in `order_by` order (default oldest first). */
export function parseDeleteQuery(params: URLSearchParams): { filters: LogFilter[]; options: LogDeleteOptions } {
  return {
    filters: parseFilters(params),
    options: { limit: positiveInt(params, "limit"), orderBy: params.get("order_by") ?? undefined, direction: direction(params) },
  };
}
