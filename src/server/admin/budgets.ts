import { budgetPrefix } from "../../../plugins/budget/rules.ts";
import type { ResolvedGateway } from "../../config/defaults.ts";
import type { SpendStore } from "../../store/spend.ts";
import { ok, type V4Success } from "./v4.ts";

/** One bucket of a `budgets` rule as `GET gateways/{id}/budgets` lists it (Switchboard's own route). */
export interface BudgetObject {
  /** The rule's name (`budget-<n>` when the config names none). */
  name: string;
  /** The bucket: `gateway`, `token=<id>`, `header:<name>=<value>` or `metadata:<key>=<value>` (`#<hash>` for long values). */
  key: string;
  usd: number;
  interval_seconds: number;
  technique: "fixed" | "sliding";
  /** Settled USD in the current window (sliding: the previous window weighted in). */
  spent: number;
  /** USD held by admitted requests still running. */
  reserved: number;
  /** ISO start of the current window. */
  window_start: string;
  /** ISO end of the current window. */
  resets_at: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The budgets part of the admin API: every bucket of the gateway's `budgets` rules that was charged in
 * the current window (or holds a reservation), in rule order. A bucket never charged is not listed.
 */
export function budgetRoutes(store: SpendStore, now: () => number = Date.now) {
  return {
    async list(gateway: ResolvedGateway): Promise<V4Success<BudgetObject[]>> {
      const at = now();
      const lists = await Promise.all(
        gateway.budgets.map(async (rule) => {
          const prefix = budgetPrefix(gateway.id, rule.index);
          const statuses = await store.list(prefix, at);
          return statuses.map(
            (s): BudgetObject => ({
              name: rule.name,
              key: s.key.slice(prefix.length),
              usd: rule.usd,
              interval_seconds: rule.intervalSeconds,
              technique: rule.sliding ? "sliding" : "fixed",
              spent: usd(s.spent),
              reserved: usd(s.reserved),
              window_start: iso(s.windowStart),
              resets_at: iso(s.resetsAt),
            }),
          );
        }),
      );
      return ok(lists.flat());
    },
  };
}

/** USD as the API shows it: floating-point sums rounded to 1e-10 (the analytics API's precision). */
function usd(value: number): number {
  return Math.round(value * 1e10) / 1e10;
}
