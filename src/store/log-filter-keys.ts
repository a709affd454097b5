import type { LogFilter } from "./types.ts";

/**
 * The logs API's filter vocabulary, the same for every log store: which keys a filter may name, what
 * kind of value each holds, and which operators each kind takes. The stores add only their SQL (the
 * expression behind each key), so a key or an operator cannot be accepted by one engine and refused by
 * the other.
 */

export type Operator = LogFilter["operator"];
export type Value = LogFilter["value"][number];
export type FilterKind = "text" | "number" | "boolean" | "date" | "metadataKey" | "metadataValue";

export const FILTER_KINDS = {
  id: "text",
  created_at: "date",
  provider: "text",
  model: "text",
  // Switchboard does not classify models; every log has model_type null.
  model_type: "text",
  success: "boolean",
  cached: "boolean",
  status_code: "number",
  event_id: "text",
  request_type: "text",
  request_content_type: "text",
  response_content_type: "text",
  cost: "number",
  tokens: "number",
  tokens_in: "number",
  tokens_out: "number",
  duration: "number",
  feedback: "number",
  user_agent: "text",
  "metadata.key": "metadataKey",
  "metadata.value": "metadataValue",
} as const satisfies Record<string, FilterKind>;

export type FilterKey = keyof typeof FILTER_KINDS;

export const OPERATORS: Record<FilterKind, readonly Operator[]> = {
  text: ["eq", "neq", "contains"],
  number: ["eq", "neq", "lt", "gt"],
  boolean: ["eq", "neq"],
  date: ["eq", "neq", "lt", "gt"],
  metadataKey: ["eq", "neq", "contains"],
  metadataValue: ["eq", "neq", "contains"],
};

/** Keys that are not a column of `logs` of the same name: each store says what they are. */
type Computed = "model_type" | "tokens" | "metadata.key" | "metadata.value";

/**
 * One store's SQL for every filter key, with the key's kind: what its `condition` builder reads. A key
 * that is a column of the same name is `logs.<key>`; the store gives the others.
 */
export function filterColumns(computed: Record<Computed, string>): Record<string, { expr: string; kind: FilterKind }> {
  return Object.fromEntries(
    Object.entries(FILTER_KINDS).map(([key, kind]) => [key, { expr: (computed as Record<string, string>)[key] ?? `logs.${key}`, kind }]),
  );
}
