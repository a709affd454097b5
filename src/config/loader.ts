import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { Value } from "@sinclair/typebox/value";
import type { Config } from "../sdk.ts";
import { validateProviderOverrides } from "../providers/registry.ts";
import { resolveConfig, type ResolvedConfig } from "./defaults.ts";
import { validatePlugins } from "./plugins.ts";
import { ConfigSchema, type ConfigInput } from "./schema.ts";
import { registerSdkModule } from "./sdk-module.ts";

export const DEFAULT_CONFIG_FILE = "gateway.config.ts";

/** A config that cannot be used; `problems` name each path and what was expected. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
  }
}

/**
 * Finds, imports and validates the config. Without `path` it uses ./gateway.config.ts when present,
 * else the built-in default (one `default` gateway, logs on, SQLite in ./data).
 */
export async function loadConfig(path?: string, cwd = process.cwd()): Promise<ResolvedConfig> {
  const file = path ? resolve(cwd, path) : resolve(cwd, DEFAULT_CONFIG_FILE);
  if (!existsSync(file)) {
    if (path) throw new ConfigError(file, ["file not found"]);
    return validateConfig({}, null, cwd);
  }
  registerSdkModule();
  let exported: unknown;
  try {
    const module = await import(file);
    exported = module.default ?? module.config;
  } catch (error) {
    throw new ConfigError(file, [`could not be loaded: ${error instanceof Error ? error.message : String(error)}`]);
  }
  if (exported === undefined) throw new ConfigError(file, ["has no default export; end it with `export default defineConfig({ … })`"]);
  // A config built asynchronously (`export default (async () => ({ … }))()`) is awaited, never skipped.
  if (isThenable(exported)) {
    try {
      exported = await exported;
    } catch (error) {
      throw new ConfigError(file, [`its default export (a Promise) rejected: ${error instanceof Error ? error.message : String(error)}`]);
    }
  }
  return validateConfig(exported, file, cwd);
}

/** Validates a config object (as a file would export it) and merges the defaults. */
export function validateConfig(input: unknown, file: string | null, cwd = process.cwd()): ResolvedConfig {
  const source = file ?? "built-in default config";
  const problems = schemaProblems(input);
  if (problems.length > 0) throw new ConfigError(source, problems);
  const config = input as ConfigInput & Config;
  problems.push(...validateProviderOverrides(config.providers ?? {}));
  problems.push(...validatePlugins(config.plugins));
  if (problems.length > 0) throw new ConfigError(source, problems);
  const resolved = resolveConfig(config, file, cwd);
  resolved.server.adminToken ??= process.env.SWITCHBOARD_ADMIN_TOKEN || undefined;
  return resolved;
}

function schemaProblems(input: unknown): string[] {
  // A Map, a Date or a class instance has no own keys the schema would see: it would pass as `{}` and
  // serve the open built-in default instead of what the file meant.
  if (!isPlainObject(input)) return [`(config): the default export must be a plain object, e.g. \`export default defineConfig({ … })\`; got ${kindOf(input)}`];
  const problems: string[] = [];
  for (const error of Value.Errors(ConfigSchema, input)) {
    const path = error.path ? error.path.slice(1).replaceAll("/", ".") : "(config)";
    problems.push(`${path}: ${error.message}${shown(error.value)}`);
    if (problems.length >= 20) break;
  }
  return problems;
}

function shown(value: unknown): string {
  if (value === undefined || (typeof value === "object" && value !== null)) return "";
  if (typeof value === "bigint") return ` (got ${value}n)`;
  if (typeof value === "function" || typeof value === "symbol") return ` (got a ${typeof value})`;
  return ` (got ${JSON.stringify(value)})`;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

function isPlainObject(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `a ${Object.getPrototypeOf(value)?.constructor?.name ?? "object"}`;
  return `a ${typeof value}`;
}
