import type { ResolvedConfig } from "../config/defaults.ts";

/**
 * What the banner of `serve` and `check` says about storage: where logs and tokens live, and where the
 * shared counters and cache live. URLs lose their password (and any query) so a banner in a terminal
 * or a journal never shows a secret.
 *
 * @example
 * describeStorage(config) // ["database  postgres://sb@db:5432/switchboard (logs, tokens)", "shared    redis://cache:6379 (…)", …]
 */
export function describeStorage(config: ResolvedConfig): string[] {
  const { sqlite, postgres, redis } = config.storage;
  const lines: string[] = [];
  if (postgres) lines.push(`database  ${safeUrl(postgres)} (logs, tokens)`);
  if (!postgres || !redis) lines.push(`database  ${sqlite}${postgres ? " (cache)" : redis ? " (logs, tokens)" : ""}`);
  if (redis) lines.push(`shared    ${safeUrl(redis)} (rate limits, budgets, cache, coalescing, circuit breakers)`);
  return lines;
}

/** `url` without its password and query string. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    parsed.search = "";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}
