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
  requestTimeout?: number;
  raw: GatewayConfig;
}

export interface ResolvedConfig {
  accountId?: string;
  server: { hostname: string; port: number; adminToken?: string; maxBodyBytes: number };
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

export function resolveGateway(id: string, raw: GatewayConfig = {}): ResolvedGateway {
  const logs = raw.logs ?? {};
  return {
    id,
    raw,
    requestTimeout: raw.requestTimeout,
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
  const gateways = new Map<string, ResolvedGateway>();
  gateways.set("default", resolveGateway("default"));
  for (const [id, raw] of Object.entries(input.gateways ?? {})) gateways.set(id, resolveGateway(id, raw));
  const sqlite = input.storage?.sqlite ?? "./data/switchboard.db";
  return {
    accountId: input.accountId,
    server: {
      hostname: input.server?.hostname ?? "127.0.0.1",
      port: input.server?.port ?? DEFAULT_PORT,
      adminToken: input.server?.adminToken,
      maxBodyBytes: input.server?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    },
    storage: { sqlite: sqlite === ":memory:" ? sqlite : resolve(configDir, sqlite) },
    providers: input.providers ?? {},
    gateways,
    plugins: (input.plugins as (string | Plugin)[] | undefined) ?? [...DEFAULT_PLUGINS],
    configPath,
    configDir,
  };
}
