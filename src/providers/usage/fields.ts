/** Defensive readers for untrusted answer JSON: they never throw and return undefined/null on a wrong shape. */

export type JsonObject = Record<string, unknown>;

/** The value as a plain object, or undefined. */
export function obj(value: unknown): JsonObject | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

/** The value as a token count (finite, non-negative number), or null. */
export function count(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : null;
}

/** The value as a non-empty string, or undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
