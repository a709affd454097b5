import type { ResolvedConfig } from "../config/defaults.ts";
import type { Flag } from "./args.ts";

/** Flags several commands share, described once. */
export const CONFIG_FLAG: Flag = { type: "string", value: "PATH", help: "the gateway config (default ./gateway.config.ts, else the built-in default)" };
export const JSON_FLAG: Flag = { type: "boolean", help: "print JSON instead of text" };

/** Fails with the configured gateway ids when `id` is not one of them (a typo would otherwise read or write nothing). */
export function requireGateway(config: ResolvedConfig, id: string): void {
  if (config.gateways.has(id)) return;
  const source = config.configPath ?? "the built-in default config";
  throw new Error(`Gateway "${id}" is not in ${source}; configured gateways: ${[...config.gateways.keys()].join(", ")}`);
}
