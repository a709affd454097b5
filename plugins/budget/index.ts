import { definePlugin, ErrorCode, type Health, type RequestContext, type ResolvedGateway, type SpendCharge, type SpendStore, type SpendWindow } from "switchboard";
import { storageUnavailable } from "../storage-unavailable.ts";
import { estimateCost } from "./estimate.ts";
import { compileBudgets, type CompiledBudget } from "./rules.ts";

export { budgetPrefix } from "./rules.ts";
export { estimateCost, PROMPT_BYTES_PER_TOKEN } from "./estimate.ts";

/** Options of {@link budget}. */
export interface BudgetOptions {
  /** The clock, in epoch ms; tests inject one to cross windows without sleeping. @default Date.now */
  now?: () => number;
}

/**
 * Enforces the gateway's `budgets`: spend limits in USD per window (built-in `"budget"`, Cloudflare's
 * spend limits). Every rule whose `provider` / `model` globs match and whose key has a value for the
 * request must have room; a request without the key's value (no such header, metadata or token) is not
 * counted by that rule.
 *
 * A request is admitted while each bucket's spend — settled cost plus the reservations of admitted
 * requests still running — is below `usd`, and admission reserves an estimate in the same atomic step:
 * prompt tokens ≈ body bytes / 4, plus `max_tokens` / `max_completion_tokens` / `max_output_tokens`,
 * priced with `cf-aig-custom-cost` or the price table (0 when the model has no known price). When the
 * answer completes, the reservation is released and the real cost (`record.cost`; 0 for cache hits and
 * unpriced answers) is charged. So the request that crosses the limit finishes, and the next ones get
 * 429/2041 with `Retry-After` until the window resets. Overshoot: a bucket ends a window at most one
 * admitted request's cost over `usd`, plus whatever admitted requests cost beyond their reservations
 * (a request without `max_tokens` reserves its prompt only).
 *
 * @example
 * gateways: { prod: { budgets: [
 *   { usd: 25, interval: "1d", key: "metadata:team", name: "team-daily" },
 *   { usd: 100, interval: "30d", provider: "openai", model: "gpt-4o*", technique: "sliding" },
 * ] } }
 */
export function budget(options: BudgetOptions = {}) {
  const now = options.now ?? Date.now;
  let spend: SpendStore;
  let health: Health;
  const rulesOf = new WeakMap<ResolvedGateway, CompiledBudget[]>();
  const held = new WeakMap<RequestContext, SpendCharge[]>();
  const rulesFor = (gateway: ResolvedGateway) => {
    let rules = rulesOf.get(gateway);
    if (!rules) rulesOf.set(gateway, (rules = compileBudgets(gateway)));
    return rules;
  };

  return definePlugin({
    name: "budget",
    appliesTo: (gateway) => rulesFor(gateway).length > 0,
    // The body is read only when the gateway has budgets (model and estimate come from it).
    readsBody: false,
    setup(gateway) {
      spend = gateway.stores.spend;
      health = gateway.health;
      const names = gateway.config.plugins.map((p) => (typeof p === "string" ? p : p.name));
      const metadataFirst = names.includes("metadata") && names.indexOf("metadata") < names.indexOf("budget");
      for (const resolved of gateway.config.gateways.values()) {
        const rules = rulesFor(resolved);
        if (!metadataFirst && rules.some((rule) => rule.key.startsWith("metadata:"))) {
          gateway.logger.warn(`gateway "${resolved.id}" has budgets by metadata, but the "metadata" plugin does not run before "budget": those budgets count nothing`);
        }
      }
    },
    async handle(ctx, next) {
      const all = rulesFor(ctx.gateway);
      if (all.length === 0) return next();
      await ctx.loadBody();
      const rules: CompiledBudget[] = [];
      const keys: string[] = [];
      for (const rule of all) {
        const key = rule.applies(ctx) ? rule.keyFor(ctx) : null;
        if (key === null) continue;
        rules.push(rule);
        keys.push(key);
      }
      if (rules.length === 0) return next();
      const reserve = estimateCost(ctx);
      const requests = rules.map((rule, i) => ({ key: keys[i], windowMs: rule.windowMs, limit: rule.usd, sliding: rule.sliding, reserve }));
      const decision = await spend.reserve(requests, now());
      if (!decision.allowed) {
        if (decision.unavailable) return storageUnavailable(ctx, "Spend budgets cannot be checked right now");
        return refuse(ctx, rules, decision.windows);
      }
      // Also when admitted by the "open" outage policy: the store settles what it really held.
      held.set(ctx, requests.map((r) => ({ key: r.key, windowMs: r.windowMs, reserved: reserve, cost: 0 })));
      return next();
    },
    async onComplete(record, ctx) {
      const charges = held.get(ctx);
      if (!charges) return;
      held.delete(ctx);
      const cost = record.cached ? 0 : Math.max(0, record.cost ?? 0);
      try {
        await spend.settle(charges.map((c) => ({ ...c, cost })), now());
        health.recovered("spend");
      } catch (error) {
        health.fault("spend", error, { during: "settling a request's cost" });
      }
    },
  });
}

/** 429/2041 naming the refusing rule that frees up last, since the request needs all of them. */
function refuse(ctx: RequestContext, rules: CompiledBudget[], windows: SpendWindow[]): Response {
  let worst = -1;
  windows.forEach((w, i) => {
    if (!w.allowed && (worst < 0 || w.resetMs > windows[worst].resetMs)) worst = i;
  });
  const rule = rules[worst];
  ctx.responseHeaders.set("Retry-After", String(Math.max(1, Math.ceil(windows[worst].resetMs / 1000))));
  const technique = rule.sliding ? "sliding" : "fixed";
  const message = `Spend limit exceeded: rule '${rule.name}' (cost limit ${rule.usd} per ${rule.intervalSeconds}s, ${technique}) for ${ctx.provider} ${ctx.model ?? "(no model)"}`;
  return ctx.error(429, ErrorCode.SpendLimited, message);
}
