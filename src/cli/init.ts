import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { booleanFlag, type Args, type Command } from "./args.ts";
import { CONFIG_TEMPLATE, MODERATION_PLUGIN_TEMPLATE, PLUGIN_TEMPLATE, TSCONFIG_TEMPLATE } from "./templates/config.ts";
import { SDK_DTS } from "./templates/sdk-dts.ts";

const FILES: [path: string, text: string][] = [
  ["gateway.config.ts", CONFIG_TEMPLATE],
  ["plugins/require-user.ts", PLUGIN_TEMPLATE],
  ["plugins/moderate.ts", MODERATION_PLUGIN_TEMPLATE],
  ["switchboard.d.ts", SDK_DTS],
  ["tsconfig.json", TSCONFIG_TEMPLATE],
];

/**
 * `switchboard init [DIR]`: writes a commented gateway.config.ts, an example plugin, the SDK's
 * types and a tsconfig so an editor type-checks both. Existing files are left as they are.
 */
export const initCommand: Command = {
  name: "init",
  synopsis: "[DIR] [--force]",
  summary: "write gateway.config.ts, an example plugin, switchboard.d.ts and a tsconfig.json into DIR (default .)",
  flags: { force: { type: "boolean", help: "overwrite files that exist" } },
  positionals: { min: 0, max: 1, message: "init takes at most one folder" },
  run: init,
};

async function init(args: Args): Promise<void> {
  const dir = resolve(args.positional[0] ?? ".");
  mkdirSync(join(dir, "plugins"), { recursive: true });
  for (const [path, text] of FILES) {
    const file = join(dir, path);
    const shown = relative(process.cwd(), file) || file;
    if (existsSync(file) && !booleanFlag(args, "force")) {
      console.log(`  kept     ${shown} (exists; --force overwrites)`);
      continue;
    }
    writeFileSync(file, text);
    console.log(`  wrote    ${shown}`);
  }
  const where = relative(process.cwd(), dir) || ".";
  console.log(`\nNext: edit ${join(where, "gateway.config.ts")}, then \`switchboard check --config ${join(where, "gateway.config.ts")}\` and \`switchboard serve --config ${join(where, "gateway.config.ts")}\`.`);
}
