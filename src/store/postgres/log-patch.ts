import type { Metadata } from "../../pipeline/record.ts";

/** A key and its value as JSON text, as PostgreSQL's `json_each` gives them: in the order of the original text. */
export interface MetadataPair {
  key: string;
  value: string;
}

const clean = (text: string) => (text.includes("\0") ? text.replaceAll("\0", "\uFFFD") : text);

/**
 * The JSON text of a log's metadata after `PATCH logs/{id}` merges `patch` into it (RFC 7396, as
 * SQLite's `json_patch` does for the SQLite store): existing keys keep their place and take the new
 * value, new keys follow in the patch's order, a null value removes its key. Compact, like the text the
 * request's metadata was stored as; NUL characters become U+FFFD (jsonb refuses them).
 *
 * @example
 * mergeMetadata([{ key: "user", value: '"ada"' }], { rating: "good", user: "ada2" }) // '{"user":"ada2","rating":"good"}'
 */
export function mergeMetadata(current: readonly MetadataPair[], patch: Metadata | Record<string, Metadata[string] | null>): string {
  const merged = new Map<string, string>();
  for (const { key, value } of current) merged.set(key, value);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(clean(key));
    else merged.set(clean(key), JSON.stringify(typeof value === "string" ? clean(value) : value));
  }
  return `{${[...merged].map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(",")}}`;
}
