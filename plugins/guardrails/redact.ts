import { jsonStrings, rewriteStrings, walkStrings, type JsonString } from "./json.ts";
import { findHits, redactText, type CompiledRule } from "./rules.ts";

/**
 * String values under these keys are names, not text (`"role": "user"`, `"model": "gpt-4o"`): a
 * keyword rule for "user" must not match every chat message's role.
 */
export const SKIP_KEYS = new Set(["model", "role", "type", "id", "object", "finish_reason", "stop_reason", "tool_call_id", "system_fingerprint", "encoding_format"]);

/** What the rules found in one JSON body. */
export interface Verdict {
  /** The first block rule that matched, if any. */
  block: CompiledRule | null;
  /** Flag rules that matched, each once, in order. */
  flags: CompiledRule[];
  /** The body with redactions applied, or null when nothing was redacted. */
  text: string | null;
}

/** One string value with the rules applied: the hits, and the value as redacted. */
function check(rules: CompiledRule[], value: string) {
  const hits = findHits(rules, value);
  return { hits, value: hits.length === 0 ? value : redactText(value, hits) };
}

/** Runs the rules over every string value of a JSON text (keys and {@link SKIP_KEYS} values aside). */
export function checkJson(rules: CompiledRule[], text: string): Verdict {
  let block: CompiledRule | null = null;
  const flags = new Set<CompiledRule>();
  const changes: { string: JsonString; value: string }[] = [];
  for (const string of jsonStrings(text)) {
    if (string.key !== null && SKIP_KEYS.has(string.key)) continue;
    const { hits, value } = check(rules, string.value);
    for (const hit of hits) {
      if (hit.rule.action === "block") block ??= hit.rule;
      else if (hit.rule.action === "flag") flags.add(hit.rule);
    }
    if (value !== string.value) changes.push({ string, value });
  }
  return { block, flags: [...flags], text: changes.length > 0 ? rewriteStrings(text, changes) : null };
}

/** Applies the same redactions, in place, to the parsed body (so `ctx.json()` agrees with the rewritten bytes). */
export function redactParsed(rules: CompiledRule[], parsed: unknown): void {
  walkStrings(parsed, (value, key) => (key !== null && SKIP_KEYS.has(key) ? value : check(rules, value).value));
}
