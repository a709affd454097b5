/**
 * The public module `switchboard`: what gateway.config.ts and plugins import. The compiled binary
 * serves this module to the files it loads, so a config or plugin needs no install step.
 *
 * @example
 * import { defineConfig, definePlugin } from "switchboard";
 * const requireUser = definePlugin({
 *   name: "require-user",
 *   handle(ctx, next) {
 *     if (!ctx.metadata.user) return ctx.error(400, 2200, "cf-aig-metadata must carry a user");
 *     return next();
 *   },
 * });
 * export default defineConfig({ plugins: ["auth", "metadata", requireUser, "logging"] });
 */
import type { ConfigInput } from "./config/schema.ts";
import type { Plugin } from "./pipeline/types.ts";

export type BuiltInPluginName = "auth" | "metadata" | "cache" | "budget" | "rate-limit" | "fallback" | "logging" | "guardrails";

/** The object gateway.config.ts default-exports. Every field is optional; see the README for defaults. */
export type Config = Omit<ConfigInput, "plugins"> & {
  /**
   * The ordered plugin chain: built-in names or plugin objects.
   * @default ["auth", "metadata", "cache", "budget", "rate-limit", "fallback", "logging"]
   */
  plugins?: (BuiltInPluginName | Plugin)[];
};

/** Identity at run time; gives gateway.config.ts editor completion and type checks. */
export function defineConfig(config: Config): Config {
  return config;
}

/** Identity at run time; types `handle(ctx, next)` and `onComplete(record)` for the editor. */
export function definePlugin<P extends Plugin>(plugin: P): P {
  return plugin;
}

export { RequestContext, type Step } from "./pipeline/context.ts";
export { ErrorCode, GatewayError, requestEnded } from "./pipeline/errors.ts";
export { booleanOption, integerOption } from "./pipeline/options.ts";
export type { Attempt, Metadata, MetadataValue, RequestRecord, RequestType, Usage } from "./pipeline/record.ts";
export type { FaultOptions, GatewayHandle, Health, HealthFault, HealthReport, Logger, Next, Plugin, Stores } from "./pipeline/types.ts";
export type { ResolvedBudget, ResolvedConfig, ResolvedGateway } from "./config/defaults.ts";
export type { BudgetRule, GatewayConfig, GuardrailRule, ProviderConfig, RateLimitRule } from "./config/schema.ts";
export { parseCustomCost, priceFor, type Price } from "./providers/prices.ts";
export type { ProviderDef, UsageReader } from "./providers/types.ts";
export type { LogStore, LogRow, LogFilter, LogQuery } from "./store/types.ts";
export type { CounterDecision, CounterRequest, CounterStore, CounterWindow } from "./store/counters.ts";
export type { SpendCharge, SpendDecision, SpendRequest, SpendStatus, SpendStore, SpendWindow } from "./store/spend.ts";
export type { CreatedToken, GatewayToken, NewToken, TokenStore } from "./store/tokens.ts";
export type { CacheEntry, CacheStore } from "./store/cache.ts";
export type { VectorIndex, VectorMatch } from "./store/vectors.ts";
export type { BreakerPermit, BreakerSettings, BreakerState, BreakerStatus, BreakerStore, BreakerTarget } from "./store/breakers.ts";
export type { Flight, FlightStore, Following, Land, Leading, ReadEntry } from "./store/flights.ts";
/** Whether a header carries a credential (`authorization`, `x-api-key`, anything named like a key, token or secret): never store its value. */
export { isSecret as isCredentialHeader, credentialDigest } from "./upstream/headers.ts";
