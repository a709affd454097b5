import type { ResolvedConfig, ResolvedGateway } from "../config/defaults.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import type { TokenStore } from "../store/tokens.ts";
import type { LogStore } from "../store/types.ts";
import type { CounterStore } from "../store/counters.ts";
import type { SpendStore } from "../store/spend.ts";
import type { CacheStore } from "../store/cache.ts";
import type { VectorIndex } from "../store/vectors.ts";
import type { BreakerStore } from "../store/breakers.ts";
import type { FlightStore } from "../store/flights.ts";
import type { RequestContext } from "./context.ts";
import type { RequestRecord } from "./record.ts";

export type Next = () => Promise<Response>;

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

/** How {@link Health.fault} describes and ends a fault. */
export interface FaultOptions {
  /** What was being done, for the reason, e.g. `"writing cached answers"`. */
  during?: string;
  /**
   * For a component that cannot tell when it works again (an unhandled rejection): the fault ends
   * once no failure came for this long. Others call `recovered` after their next success.
   */
  recoverAfterMs?: number;
}

/** One ongoing fault, as `GET /health` lists it. */
export interface HealthFault {
  /** Who failed, e.g. `"cache"`, `"logs"`, `"tokens"`, `"process"`, or a plugin's name. */
  component: string;
  /** What failed and the error's code or class, e.g. `"writing cached answers: SQLITE_FULL (database or disk is full)"`. Never a message, path or body. */
  reason: string;
  /** Failures since `since`. */
  count: number;
  /** ISO time of the first failure of this burst. */
  since: string;
  /** ISO time of the latest failure. */
  last: string;
}

/** The body of `GET /health` (always HTTP 200: a degraded gateway still serves). */
export interface HealthReport {
  status: "ok" | "degraded";
  /** Ongoing faults, oldest first; empty when `status` is `"ok"`. */
  faults: HealthFault[];
  /** Counters components publish with {@link Health.section}, e.g. `logs: { written, dropped, retrying }`. */
  stats: Record<string, Record<string, number>>;
}

/**
 * The gateway's health: background failures (storage, timers, callbacks) are reported here instead of
 * ending the process. The first failure of a burst is logged with its error; later ones are only
 * counted, until the component reports a success.
 *
 * @example
 * try { flushBuffer(); gateway.health.recovered("my-plugin"); }
 * catch (error) { gateway.health.fault("my-plugin", error, { during: "flushing the buffer" }); }
 */
export interface Health {
  /** Records one failure of `component`; logs it when it starts a burst. Never throws. */
  fault(component: string, error: unknown, options?: FaultOptions): void;
  /** `component` just worked: ends its fault, if any, with a line saying how many failures it saw. Cheap when there is none. */
  recovered(component: string): void;
  /** Publishes counters under `stats[name]`, read on every `snapshot`. */
  section(name: string, read: () => Record<string, number>): void;
  /** What `GET /health` answers. */
  snapshot(): HealthReport;
}

/** The storage a plugin may use. Swapping SQLite for another backend changes what is behind these, never a plugin. */
export interface Stores {
  logs: LogStore;
  /** Windowed counters for rate limits (in-process by default). */
  counters: CounterStore;
  /** USD spent and reserved per budget window (in-process by default). */
  spend: SpendStore;
  /** Gateway tokens made at run time (hashed); the auth plugin verifies against it. */
  tokens: TokenStore;
  /** Cached answers (SQLite by default, so they survive a restart). */
  cache: CacheStore;
  /** Prompt vectors of the semantic cache, each pointing at a `cache` key (SQLite-backed, searched in memory, by default). */
  vectors: VectorIndex;
  /** The circuit breaker of each target the fallback plugin calls (in-process by default). */
  breakers: BreakerStore;
  /** Coalescing of identical in-flight cache misses (in-process by default; across replicas with Redis). */
  flights: FlightStore;
}

/** What `setup(gateway)` receives: the validated config, the stores, the providers and a logger. */
export interface GatewayHandle {
  readonly config: ResolvedConfig;
  readonly stores: Stores;
  readonly providers: ProviderRegistry;
  readonly logger: Logger;
  /** Report background failures here (they show in `GET /health`); see {@link Health}. */
  readonly health: Health;
}

/**
 * A link of the chain. `handle` is onion middleware: return your own Response to short-circuit, or
 * `await next()` (possibly wrapped). `onComplete` runs after the response body was delivered, failed
 * or abandoned — off the request path, so it never delays the client.
 */
export interface Plugin {
  /** Named in errors and in the start-up banner. */
  name: string;
  /** Runs once at start-up. */
  setup?(gateway: GatewayHandle): void | Promise<void>;
  handle?(ctx: RequestContext, next: Next): Response | Promise<Response>;
  onComplete?(record: RequestRecord, ctx: RequestContext): void | Promise<void>;
  /** Runs once on shutdown, after the last request finished (flush what you buffer). */
  close?(): void | Promise<void>;
  /**
   * Plugins that call `next()` more than once on purpose (retries, fallback) say so here;
   * for everyone else a second call is a bug and fails the request.
   */
  callsNextRepeatedly?: boolean;
  /**
   * How long `handle` may take on one request, in ms, not counting the time it waits in `next()`;
   * past it the request fails with 500/2122 naming the plugin. 0 means no limit.
   * `server.pluginTimeouts[name]` in the config wins over this. @default server.pluginTimeout (5000)
   */
  timeout?: number;
  /**
   * Set to false when `handle` never looks at the request body: the chain then runs it before the body
   * is read, so its refusals (401, 429, …) cost no upload. Such a plugin that turns out to need the
   * body awaits `ctx.loadBody()` first. @default true
   */
  readsBody?: boolean;
  /**
   * False when `handle` would pass every request of `gateway` straight to `next()` (the feature is not
   * configured there): that gateway's chain leaves the plugin out, which saves its layer on every
   * request. Asked once per gateway, when its first request arrives; `onComplete` runs either way.
   * @default every gateway
   */
  appliesTo?(gateway: ResolvedGateway): boolean;
}
