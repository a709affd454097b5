import type { ResolvedConfig } from "../config/defaults.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import type { TokenStore } from "../store/tokens.ts";
import type { LogStore } from "../store/types.ts";
import type { CounterStore } from "../store/counters.ts";
import type { CacheStore } from "../store/cache.ts";
import type { RequestContext } from "./context.ts";
import type { RequestRecord } from "./record.ts";

export type Next = () => Promise<Response>;

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

/** The storage a plugin may use. Swapping SQLite for another backend changes what is behind these, never a plugin. */
export interface Stores {
  logs: LogStore;
  /** Windowed counters for rate limits (in-process by default). */
  counters: CounterStore;
  /** Gateway tokens made at run time (hashed); the auth plugin verifies against it. */
  tokens: TokenStore;
  /** Cached answers (SQLite by default, so they survive a restart). */
  cache: CacheStore;
}

/** What `setup(gateway)` receives: the validated config, the stores, the providers and a logger. */
export interface GatewayHandle {
  readonly config: ResolvedConfig;
  readonly stores: Stores;
  readonly providers: ProviderRegistry;
  readonly logger: Logger;
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
}
