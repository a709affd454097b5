import { dirname, resolve } from "node:path";
import type { BudgetRule, ConfigInput, GatewayConfig, ProviderConfig, RouteConfig } from "./schema.ts";
import type { Plugin } from "../pipeline/types.ts";
import type { Price } from "../providers/prices.ts";

export interface ResolvedLogs {
  collect: boolean;
  payloads: boolean;
  maxPayloadBytes: number;
  maxRows?: number;
  maxAgeDays?: number;
}

/** A gateway with every default filled in. `raw` is what the config said, for plugins that read their own keys. */
export interface ResolvedGateway {
  id: string;
  logs: ResolvedLogs;
  /** Time to the provider's first byte, in ms (the gateway's own, else `server.requestTimeout`). */
  requestTimeout: number;
  /** Longest silence inside a started stream, in ms (the gateway's own, else `server.streamIdleTimeout`). */
  streamIdleTimeout: number;
  /** Retries per step, with defaults filled in. */
  retry: ResolvedRetry;
  /** The circuit breaker of each target, in ms. */
  breaker: { failures: number; windowMs: number; cooldownMs: number };
  /** The config's top-level `prices`, which every gateway prices its requests with (over the built-in table). */
  prices?: Record<string, Price>;
  /** The `budgets` rules in config order, defaults filled in; `[]` when none. */
  budgets: ResolvedBudget[];
  raw: GatewayConfig;
}

/** A `budgets` rule of one gateway with its defaults filled in. */
export interface ResolvedBudget {
  /** Position in the gateway's `budgets` list, from 0. */
  index: number;
  /** The configured name, else `budget-<index + 1>`. */
  name: string;
  usd: number;
  intervalSeconds: number;
  sliding: boolean;
  /** `gateway`, `token`, `header:<name>` (lower-cased) or `metadata:<key>`. */
  key: string;
  /** Provider and model globs; null matches everything. */
  provider: string | null;
  model: string | null;
}

export interface ResolvedRetry {
  maxAttempts: number;
  delayMs: number;
  backoff: "constant" | "linear" | "exponential";
  /** Provider statuses that trigger a retry or the next step; null: 429 and every 5xx. */
  statuses: ReadonlySet<number> | null;
}

export interface ResolvedConfig {
  accountId?: string;
  server: {
    hostname: string;
    port: number;
    adminToken?: string;
    maxBodyBytes: number;
    bodyMemoryBytes: number;
    minBodyRate: number;
    bodyRateWindow: number;
    requestTimeout: number;
    streamIdleTimeout: number;
    pluginTimeout: number;
    pluginTimeouts: Record<string, number>;
    drainTimeout: number;
    websocket: { maxFrameBytes: number; maxInFlight: number; idleTimeout: number; maxBufferedBytes: number };
    /** Who may read `GET /metrics`; `"off"` counts nothing. */
    metrics: "admin" | "public" | "off";
    /** OTLP/HTTP span export with its defaults filled in; null when off. */
    otel: { endpoint: string; headers: Record<string, string>; batchSize: number; intervalMs: number } | null;
    /** Origins allowed to call the AI routes from a browser; null when CORS is closed. */
    cors: { origins: string[]; maxAge: number } | null;
  };
  storage: {
    sqlite: string;
    /** PostgreSQL URL (logs and tokens), or null for SQLite. */
    postgres: string | null;
    /** Redis URL (counters, spend, cache, vectors, flights, breakers), or null for in-process and SQLite. */
    redis: string | null;
    /** ms a request waits on a shared engine. */
    timeout: number;
    limitsWhenDown: "open" | "closed";
    logBuffer: number;
  };
  providers: Record<string, ProviderConfig>;
  /** Model routes for the compat endpoint, by name (`model: "dynamic/<name>"`); none by default. */
  routes: Record<string, RouteConfig>;
  gateways: Map<string, ResolvedGateway>;
  plugins: (string | Plugin)[];
  /** Absolute path of the config file, or null when running on the built-in default. */
  configPath: string | null;
  /** Folder relative paths in the config resolve against. */
  configDir: string;
}

export const DEFAULT_PLUGINS = ["auth", "metadata", "cache", "budget", "rate-limit", "fallback", "logging"] as const;
export const DEFAULT_PORT = 8787;
export const DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024;
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
export const DEFAULT_BODY_MEMORY_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MIN_BODY_RATE = 1024;
export const DEFAULT_BODY_RATE_WINDOW_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;
export const DEFAULT_PLUGIN_TIMEOUT_MS = 5_000;
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;
export const DEFAULT_BREAKER = { failures: 5, windowMs: 60_000, cooldownMs: 30_000 } as const;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** Server-wide values a gateway falls back to. */
export interface GatewayDefaults {
  requestTimeout: number;
  streamIdleTimeout: number;
  prices?: Record<string, Price>;
}

export function resolveGateway(
  id: string,
  raw: GatewayConfig = {},
  defaults: GatewayDefaults = { requestTimeout: DEFAULT_REQUEST_TIMEOUT_MS, streamIdleTimeout: DEFAULT_STREAM_IDLE_TIMEOUT_MS },
): ResolvedGateway {
  const logs = raw.logs ?? {};
  const retry = raw.retry ?? {};
  const breaker = raw.breaker ?? {};
  return {
    id,
    raw,
    prices: defaults.prices,
    budgets: (raw.budgets ?? []).map((rule, index) => resolveBudget(rule, index)),
    requestTimeout: raw.requestTimeout ?? defaults.requestTimeout,
    streamIdleTimeout: raw.streamIdleTimeout ?? defaults.streamIdleTimeout,
    retry: {
      maxAttempts: retry.maxAttempts ?? 1,
      delayMs: retry.delay ?? 0,
      backoff: retry.backoff ?? "constant",
      statuses: retry.statuses ? new Set(retry.statuses) : null,
    },
    breaker: {
      failures: breaker.failures ?? DEFAULT_BREAKER.failures,
      windowMs: (breaker.window ?? DEFAULT_BREAKER.windowMs / 1000) * 1000,
      cooldownMs: (breaker.cooldown ?? DEFAULT_BREAKER.cooldownMs / 1000) * 1000,
    },
    logs: {
      collect: logs.collect ?? true,
      payloads: logs.payloads ?? true,
      maxPayloadBytes: logs.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      maxRows: logs.maxRows,
      maxAgeDays: logs.maxAgeDays,
    },
  };
}

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** Seconds of a window length: a number of seconds, or `"1h"`, `"1d"`, `"30d"`, any `<n>s|m|h|d`. */
export function intervalSeconds(interval: number | string): number {
  if (typeof interval === "number") return interval;
  return Number.parseInt(interval, 10) * UNIT_SECONDS[interval.at(-1) as keyof typeof UNIT_SECONDS];
}

function resolveBudget(rule: BudgetRule, index: number): ResolvedBudget {
  const key = rule.key ?? "gateway";
  return {
    index,
    name: rule.name ?? `budget-${index + 1}`,
    usd: rule.usd,
    intervalSeconds: intervalSeconds(rule.interval),
    sliding: rule.technique === "sliding",
    key: key.startsWith("header:") ? `header:${key.slice("header:".length).trim().toLowerCase()}` : key,
    provider: rule.provider ?? null,
    model: rule.model ?? null,
  };
}

/** Merges defaults into a validated config. The `default` gateway always exists. */
export function resolveConfig(input: ConfigInput, configPath: string | null, cwd = process.cwd()): ResolvedConfig {
  const configDir = configPath ? dirname(configPath) : cwd;
  const server = input.server ?? {};
  const requestTimeout = server.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const streamIdleTimeout = server.streamIdleTimeout ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS;
  // An empty table is no table: priceFor keeps its cached built-in path.
  const prices = input.prices && Object.keys(input.prices).length > 0 ? input.prices : undefined;
  const defaults = { requestTimeout, streamIdleTimeout, prices };
  const gateways = new Map<string, ResolvedGateway>();
  gateways.set("default", resolveGateway("default", {}, defaults));
  for (const [id, raw] of Object.entries(input.gateways ?? {})) gateways.set(id, resolveGateway(id, raw, defaults));
  const sqlite = input.storage?.sqlite ?? "./data/switchboard.db";
  return {
    accountId: input.accountId,
    server: {
      hostname: server.hostname ?? "127.0.0.1",
      port: server.port ?? DEFAULT_PORT,
      adminToken: server.adminToken,
      maxBodyBytes: server.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      bodyMemoryBytes: server.bodyMemoryBytes ?? DEFAULT_BODY_MEMORY_BYTES,
      minBodyRate: server.minBodyRate ?? DEFAULT_MIN_BODY_RATE,
      bodyRateWindow: server.bodyRateWindow ?? DEFAULT_BODY_RATE_WINDOW_MS,
      requestTimeout,
      streamIdleTimeout,
      pluginTimeout: server.pluginTimeout ?? DEFAULT_PLUGIN_TIMEOUT_MS,
      pluginTimeouts: server.pluginTimeouts ?? {},
      drainTimeout: server.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT_MS,
      websocket: {
        maxFrameBytes: server.websocket?.maxFrameBytes ?? 16 * 1024 * 1024,
        maxInFlight: server.websocket?.maxInFlight ?? 128,
        idleTimeout: server.websocket?.idleTimeout ?? 120,
        maxBufferedBytes: server.websocket?.maxBufferedBytes ?? 8 * 1024 * 1024,
      },
      metrics: server.metrics ?? "admin",
      otel: server.otel
        ? { endpoint: server.otel.endpoint, headers: server.otel.headers ?? {}, batchSize: server.otel.batchSize ?? 512, intervalMs: server.otel.intervalMs ?? 5000 }
        : null,
      cors: server.cors ? { origins: server.cors.origins, maxAge: server.cors.maxAge ?? 600 } : null,
    },
    storage: {
      sqlite: sqlite === ":memory:" ? sqlite : resolve(configDir, sqlite),
      postgres: input.storage?.postgres ?? null,
      redis: input.storage?.redis ?? null,
      timeout: input.storage?.timeout ?? 250,
      limitsWhenDown: input.storage?.limitsWhenDown ?? "open",
      logBuffer: input.storage?.logBuffer ?? 10_000,
    },
    providers: input.providers ?? {},
    routes: input.routes ?? {},
    gateways,
    plugins: (input.plugins as (string | Plugin)[] | undefined) ?? [...DEFAULT_PLUGINS],
    configPath,
    configDir,
  };
}
