import { dirname, resolve } from "node:path";
import type { ConfigInput, GatewayConfig, ProviderConfig } from "./schema.ts";
import type { Plugin } from "../pipeline/types.ts";

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
  raw: GatewayConfig;
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
    pluginTimeout: number;
    pluginTimeouts: Record<string, number>;
    drainTimeout: number;
  };
  storage: { sqlite: string };
  providers: Record<string, ProviderConfig>;
  gateways: Map<string, ResolvedGateway>;
  plugins: (string | Plugin)[];
  /** Absolute path of the config file, or null when running on the built-in default. */
  configPath: string | null;
  /** Folder relative paths in the config resolve against. */
  configDir: string;
}

export const DEFAULT_PLUGINS = ["auth", "metadata", "cache", "rate-limit", "fallback", "logging"] as const;
export const DEFAULT_PORT = 8787;
export const DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024;
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
export const DEFAULT_BODY_MEMORY_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MIN_BODY_RATE = 1024;
export const DEFAULT_BODY_RATE_WINDOW_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;
export const DEFAULT_PLUGIN_TIMEOUT_MS = 5_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export function resolveGateway(id: string, raw: GatewayConfig = {}, requestTimeout = DEFAULT_REQUEST_TIMEOUT_MS): ResolvedGateway {
  const logs = raw.logs ?? {};
  return {
    id,
    raw,
    requestTimeout: raw.requestTimeout ?? requestTimeout,
    logs: {
      collect: logs.collect ?? true,
      payloads: logs.payloads ?? true,
      maxPayloadBytes: logs.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      maxRows: logs.maxRows,
      maxAgeDays: logs.maxAgeDays,
    },
  };
}

/** Merges defaults into a validated config. The `default` gateway always exists. */
export function resolveConfig(input: ConfigInput, configPath: string | null, cwd = process.cwd()): ResolvedConfig {
  const configDir = configPath ? dirname(configPath) : cwd;
  const server = input.server ?? {};
  const requestTimeout = server.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const gateways = new Map<string, ResolvedGateway>();
  gateways.set("default", resolveGateway("default", {}, requestTimeout));
  for (const [id, raw] of Object.entries(input.gateways ?? {})) gateways.set(id, resolveGateway(id, raw, requestTimeout));
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
      pluginTimeout: server.pluginTimeout ?? DEFAULT_PLUGIN_TIMEOUT_MS,
      pluginTimeouts: server.pluginTimeouts ?? {},
      drainTimeout: server.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT_MS,
    },
    storage: { sqlite: sqlite === ":memory:" ? sqlite : resolve(configDir, sqlite) },
    providers: input.providers ?? {},
    gateways,
    plugins: (input.plugins as (string | Plugin)[] | undefined) ?? [...DEFAULT_PLUGINS],
    configPath,
    configDir,
  };
}
