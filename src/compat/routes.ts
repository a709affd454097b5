import type { RouteConfig, RouteCondition } from "../config/schema.ts";
import { ErrorCode, GatewayError } from "../pipeline/errors.ts";
import type { Attempt, Metadata } from "../pipeline/record.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import { matches } from "./conditions.ts";
import { quote } from "./errors.ts";
import { LatencyTracker } from "./latency.ts";
import { parseModelRef, type ModelRef } from "./model-ref.ts";

/** One step a compat request will try: the model, and the step's own `cf-aig-*` options (a route target's timeout and retries). */
export interface PlannedTarget {
  ref: ModelRef;
  /** `{provider}/{model}` as the route lists it; null for a request that named its model directly. */
  routeTarget: string | null;
  options: Headers | null;
}

interface CompiledTarget {
  ref: ModelRef;
  name: string;
  weight: number;
  options: Headers | null;
  when: RouteCondition | undefined;
}

interface CompiledRoute {
  strategy: NonNullable<RouteConfig["strategy"]>;
  targets: CompiledTarget[];
  when: RouteCondition | undefined;
  random: () => number;
}

/** Options of {@link RouteTable}. */
export interface RouteTableOptions {
  /** The draw of routes without a `seed`, in [0, 1). @default Math.random */
  random?: () => number;
}

/**
 * The config's model routes (`model: "dynamic/<name>"`), compiled once at start-up: every target's
 * model is checked against the registry then, so a typo stops the gateway instead of failing requests.
 * `plan` orders a route's targets by its strategy; the `fallback` plugin then walks them as steps.
 */
export class RouteTable {
  readonly #routes = new Map<string, CompiledRoute>();
  readonly latency = new LatencyTracker();

  constructor(routes: Record<string, RouteConfig>, providers: ProviderRegistry, options: RouteTableOptions = {}) {
    for (const [name, route] of Object.entries(routes)) {
      const targets = route.targets.map((target, index) => {
        let ref: ModelRef;
        try {
          ref = parseModelRef(target.model, providers);
        } catch (error) {
          throw new Error(`routes.${name}.targets[${index}].model: ${error instanceof Error ? error.message : String(error)}`);
        }
        return { ref, name: target.model, weight: target.weight ?? 1, options: targetOptions(target.timeout, target.retries), when: target.when };
      });
      const random = route.seed === undefined ? (options.random ?? Math.random) : seeded(route.seed);
      this.#routes.set(name, { strategy: route.strategy ?? "fallback", targets, when: route.when, random });
    }
  }

  /** The configured route names, sorted. */
  names(): string[] {
    return [...this.#routes.keys()].sort();
  }

  /**
   * The targets of route `name` in the order to try them: `fallback` as listed; `weighted` one drawn
   * by weight first, then the others as listed; `latency` lowest recent median time to first byte
   * first (targets not measured yet first of all, so each gets measured). Targets whose `when` does
   * not hold are left out. An unknown route is 400/2140; a route (or every target) whose condition
   * does not hold, 400/2141. `metadata` is read only when a condition needs it.
   */
  plan(name: string, metadata: () => Metadata): PlannedTarget[] {
    const route = this.#routes.get(name);
    if (!route) {
      const known = this.names();
      throw new GatewayError(400, ErrorCode.UnknownRoute, `Unknown route ${quote(name)} in "model": "dynamic/${name}"; ${known.length > 0 ? `configured routes: ${known.join(", ")}` : "no routes are configured (config routes)"}`);
    }
    if (route.when && !matches(route.when, metadata())) {
      throw new GatewayError(400, ErrorCode.RouteNotApplicable, `Route ${quote(name)} does not serve this request: its "when" condition does not hold for the request's cf-aig-metadata`);
    }
    const eligible = route.targets.filter((target) => !target.when || matches(target.when, metadata()));
    if (eligible.length === 0) {
      throw new GatewayError(400, ErrorCode.RouteNotApplicable, `Route ${quote(name)} has no target for this request: no target's "when" condition holds for the request's cf-aig-metadata`);
    }
    return this.#order(route, eligible).map((target) => ({ ref: target.ref, routeTarget: target.name, options: target.options }));
  }

  /** Feeds the latency tracker from a finished request's attempts (steps it skipped are not timings). */
  observe(attempts: readonly Attempt[], planned: readonly PlannedTarget[]): void {
    for (const attempt of attempts) {
      const target = planned[attempt.step]?.routeTarget;
      if (!target || (attempt.status === null && attempt.durationMs === 0)) continue;
      this.latency.record(target, attempt.status === null ? attempt.durationMs : (attempt.ttfbMs ?? attempt.durationMs));
    }
  }

  #order(route: CompiledRoute, targets: CompiledTarget[]): CompiledTarget[] {
    if (route.strategy === "weighted") {
      const total = targets.reduce((sum, target) => sum + target.weight, 0);
      if (total <= 0) return targets;
      let draw = route.random() * total;
      const first = targets.find((target) => (draw -= target.weight) < 0) ?? targets.findLast((target) => target.weight > 0)!;
      return [first, ...targets.filter((target) => target !== first)];
    }
    if (route.strategy === "latency") {
      const p50 = new Map(targets.map((target) => [target, this.latency.p50(target.name) ?? -1]));
      // Array.prototype.sort is stable: equal medians keep the listed order.
      return [...targets].sort((a, b) => p50.get(a)! - p50.get(b)!);
    }
    return targets;
  }
}

/** A target's `timeout` and `retries` as the step options the upstream attempt and the fallback plugin read. */
function targetOptions(timeout: number | undefined, retries: number | undefined): Headers | null {
  if (timeout === undefined && retries === undefined) return null;
  const options = new Headers();
  if (timeout !== undefined) options.set("cf-aig-request-timeout", String(timeout));
  if (retries !== undefined) options.set("cf-aig-max-attempts", String(retries + 1));
  return options;
}

/** mulberry32: a small seeded generator in [0, 1), so a route's weighted draws repeat run after run. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
