import type { BreakerState, BreakerStore } from "../../store/breakers.ts";
import { ok, type V4Success } from "./v4.ts";

/** One circuit breaker as `GET gateways/{id}/breakers` lists it (Switchboard's own route). */
export interface BreakerObject {
  provider: string;
  base_url: string;
  model: string | null;
  state: BreakerState;
  /** Failures counted since it last closed (for a closed breaker: within `breaker.window`). */
  failures: number;
  /** ISO time it last opened; null while closed. */
  opened_at: string | null;
  /** ISO time an open breaker lets a probe through; null while closed. */
  retry_at: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The breakers part of the admin API: every target of a gateway whose breaker is open, half-open or
 * closed with recent failures. A target never seen failing is not listed (it is closed).
 */
export function breakerRoutes(store: BreakerStore, now: () => number = Date.now) {
  return {
    async list(gatewayId: string): Promise<V4Success<BreakerObject[]>> {
      const statuses = await store.list(gatewayId, now());
      return ok(
        statuses.map((s) => ({
          provider: s.target.provider,
          base_url: s.target.baseUrl,
          model: s.target.model,
          state: s.state,
          failures: s.failures,
          opened_at: iso(s.openedAt),
          retry_at: iso(s.retryAt),
        })),
      );
    },
  };
}
