import { RouteTable } from "../compat/routes.ts";
import { loadConfig } from "../config/loader.ts";
import { createRegistry } from "../providers/registry.ts";
import { stringFlag, type Args, type Command } from "./args.ts";
import { CONFIG_FLAG } from "./common.ts";
import { describeStorage } from "../store/describe.ts";

/** `switchboard check [--config PATH]`: loads and validates the config, prints a summary, exits 0 or 1. */
export const checkCommand: Command = {
  name: "check",
  synopsis: "[--config PATH]",
  summary: "validate the config and exit 0, or print each problem with its path and exit 1",
  flags: { config: CONFIG_FLAG },
  run: check,
};

async function check(args: Args): Promise<void> {
  const config = await loadConfig(stringFlag(args, "config"));
  // What only start-up would otherwise find: provider overrides and model routes that name unknown providers.
  new RouteTable(config.routes, createRegistry(config.providers));
  const names = config.plugins.map((plugin) => (typeof plugin === "string" ? plugin : plugin.name));
  console.log(`${config.configPath ?? "built-in default config"} is valid`);
  console.log(`  gateways  ${[...config.gateways.keys()].join(", ")}`);
  console.log(`  plugins   ${names.join(" → ")}`);
  for (const line of describeStorage(config)) console.log(`  ${line}`);
}
