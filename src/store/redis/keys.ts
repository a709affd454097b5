import type { RedisConnection } from "./connection.ts";

/**
 * What every Redis-backed store prefixes its keys with, so one Redis can hold several deployments (or
 * test runs) side by side, and `SCAN` finds only a store's own keys.
 * @default "sb:"
 */
export const DEFAULT_NAMESPACE = "sb:";

/**
 * What to do when Redis cannot be asked (away, or slower than `storage.timeout`): `"open"` lets the
 * request through as if the limit had room, `"closed"` refuses it. Mirrors `storage.limitsWhenDown`.
 */
export type LimitsWhenDown = "open" | "closed";

/** Escapes the glob characters of `text` for a `SCAN … MATCH` pattern, so a key prefix matches literally. */
export function globEscape(text: string): string {
  return text.replace(/[\\*?[\]^]/g, "\\$&");
}

/**
 * Every key matching `pattern`, by `SCAN` (never `KEYS`, which blocks the server). For admin listings,
 * not for the request path: it walks the whole keyspace in pages of `count`.
 *
 * @example
 * await scanKeys(redis, `sb:spend:${globEscape("budget:prod:")}*`);
 */
export async function scanKeys(redis: RedisConnection, pattern: string, count = 1000): Promise<string[]> {
  const keys = new Set<string>();
  let cursor = "0";
  do {
    const [next, page] = (await redis.send("SCAN", [cursor, "MATCH", pattern, "COUNT", count])) as [string, string[]];
    for (const key of page) keys.add(key);
    cursor = String(next);
  } while (cursor !== "0");
  return [...keys];
}
