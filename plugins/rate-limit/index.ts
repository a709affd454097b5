import { definePlugin, ErrorCode, type CounterRequest, type CounterStore, type CounterWindow, type RequestContext, type ResolvedGateway } from "switchboard";
import { storageUnavailable } from "../storage-unavailable.ts";
import { compileRules, NO_VALUE, type CompiledRule } from "./rules.ts";

export { NO_VALUE };

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** The clock, in epoch ms; tests inject one to cross windows without sleeping. @default Date.now */
  now?: () => number;
}

/** What a request was charged, kept until its answer completes. */
interface Charge {
  rules: CompiledRule[];
  requests: CounterRequest[];
  at: number;
}

/**
 * Enforces the gateway's `rateLimit` rules (one or a list; all must pass). A request is charged to every
 * rule only when it passes all of them. Over a limit: 429/2003 with `Retry-After` and `RateLimit-*`, and
 * nothing goes upstream; allowed answers carry `RateLimit-*` for the tightest rule.
 * `unit: "tokens"` refuses once the window is full and adds the provider-reported tokens when the answer
 * completes. Cache hits are not counted: a hit answered before this plugin never reaches it, and one
 * answered after it is refunded. Keys: `gateway`, `ip`, `token` (the client address when unauthenticated),
 * `header:<name>`, `metadata:<key>`; requests without a value for a header/metadata key share one
 * `(none)` bucket. Counters live in `stores.counters` (in-process by default).
 *
 * @example
 * gateways: { prod: { rateLimit: [
 *   { limit: 100, interval: 60, key: "header:x-user" },
 *   { limit: 50_000, interval: 3600, technique: "sliding", key: "metadata:team", unit: "tokens" },
 * ] } }
 */
export function rateLimit(options: RateLimitOptions = {}) {
  const now = options.now ?? Date.now;
  let counters: CounterStore;
  const rulesOf = new WeakMap<ResolvedGateway, CompiledRule[]>();
  const charges = new WeakMap<RequestContext, Charge>();
  const rulesFor = (gateway: ResolvedGateway) => {
    let rules = rulesOf.get(gateway);
    if (!rules) rulesOf.set(gateway, (rules = compileRules(gateway)));
    return rules;
  };

  return definePlugin({
    name: "rate-limit",
    readsBody: false,
    appliesTo: (gateway) => rulesFor(gateway).length > 0,
    setup(gateway) {
      counters = gateway.stores.counters;
      const names = gateway.config.plugins.map((p) => (typeof p === "string" ? p : p.name));
      const metadataFirst = names.includes("metadata") && names.indexOf("metadata") < names.indexOf("rate-limit");
      for (const resolved of gateway.config.gateways.values()) {
        const rules = rulesFor(resolved);
        if (!metadataFirst && rules.some((rule) => rule.key.startsWith("metadata:"))) {
          gateway.logger.warn(`gateway "${resolved.id}" limits by metadata, but the "metadata" plugin does not run before "rate-limit": every request will share the ${NO_VALUE} bucket`);
        }
      }
    },
    async handle(ctx, next) {
      const rules = rulesFor(ctx.gateway);
      if (rules.length === 0) return next();
      const at = now();
      const requests = rules.map((rule): CounterRequest => ({
        key: rule.keyFor(ctx),
        windowMs: rule.intervalMs,
        limit: rule.limit,
        cost: rule.unit === "requests" ? 1 : 0,
        sliding: rule.sliding,
      }));
      const decision = await counters.take(requests, at);
      if (!decision.allowed) {
        // Redis away with `storage.limitsWhenDown: "closed"`: nothing was counted, nothing was spent.
        if (decision.unavailable) return storageUnavailable(ctx, "Rate limits cannot be checked right now");
        return refuse(ctx, rules, decision.windows);
      }
      // Redis away with the "open" policy: the request passes uncounted, so there is nothing to settle or refund.
      if (decision.unavailable) return next();
      charges.set(ctx, { rules, requests, at });
      setHeaders(ctx, rules, decision.windows);
      const response = await next();
      if (ctx.cacheStatus === "HIT") {
        // A later plugin answered from the cache: give the request back to every request-counting rule.
        const refunded = requests.filter((r) => r.cost > 0);
        await Promise.all(refunded.map((r) => counters.add(r.key, r.windowMs, -r.cost, at)));
        setHeaders(ctx, rules, decision.windows.map((w, i) => ({ ...w, remaining: Math.min(rules[i].limit, w.remaining + requests[i].cost) })));
      }
      return response;
    },
    async onComplete(record, ctx) {
      const charge = charges.get(ctx);
      if (!charge || record.cached) return;
      const tokens = (record.usage.tokensIn ?? 0) + (record.usage.tokensOut ?? 0);
      if (tokens <= 0) return;
      const settledAt = now();
      await Promise.all(
        charge.rules
          .filter((rule) => rule.unit === "tokens")
          .map((rule) => counters.add(charge.requests[rule.index].key, rule.intervalMs, tokens, settledAt)),
      );
    },
  });
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** `RateLimit-*` of the tightest rule: the smallest share of its limit left (rules may count different units). */
function setHeaders(ctx: RequestContext, rules: CompiledRule[], windows: CounterWindow[]): void {
  let tightest = 0;
  windows.forEach((w, i) => {
    if (w.remaining / rules[i].limit < windows[tightest].remaining / rules[tightest].limit) tightest = i;
  });
  writeHeaders(ctx, rules[tightest].limit, windows[tightest].remaining, windows[tightest].resetMs);
}

function writeHeaders(ctx: RequestContext, limit: number, remaining: number, resetMs: number): number {
  const reset = seconds(resetMs);
  ctx.responseHeaders.set("RateLimit-Limit", String(limit));
  ctx.responseHeaders.set("RateLimit-Remaining", String(remaining));
  ctx.responseHeaders.set("RateLimit-Reset", String(reset));
  return reset;
}

/** 429 naming the refusing rule that frees up last, since the request needs all of them. */
function refuse(ctx: RequestContext, rules: CompiledRule[], windows: CounterWindow[]): Response {
  let worst = -1;
  windows.forEach((w, i) => {
    if (!w.allowed && (worst < 0 || w.resetMs > windows[worst].resetMs)) worst = i;
  });
  const rule = rules[worst];
  const retry = writeHeaders(ctx, rule.limit, windows[worst].remaining, windows[worst].resetMs);
  ctx.responseHeaders.set("Retry-After", String(retry));
  const technique = rule.sliding ? "sliding" : "fixed";
  const what = rule.unit === "tokens" ? `${rule.limit} tokens` : `${rule.limit} requests`;
  const message = `Rate limited: rateLimit rule ${rule.index + 1} allows ${what} per ${rule.interval}s (${technique} window) ${rule.scope}; retry in ${retry}s`;
  return ctx.error(429, ErrorCode.RateLimited, message);
}
