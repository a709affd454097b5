import { ErrorCode, type RequestContext } from "switchboard";

/**
 * The answer when a shared store (Redis, PostgreSQL) cannot be asked and the feature's policy is to
 * refuse: 503 / 2118 with `Retry-After: 1`, never the answer of the check itself (a 429 would tell the
 * client it spent its limit, a 401 that its token is bad).
 *
 * @example
 * if (decision.unavailable) return storageUnavailable(ctx, "Rate limits cannot be checked right now");
 */
export function storageUnavailable(ctx: RequestContext, what: string): Response {
  const refused = ctx.error(503, ErrorCode.StorageUnavailable, `${what} (storage unavailable); retry shortly`);
  refused.headers.set("retry-after", "1");
  return refused;
}
