#!/usr/bin/env bun
import { parseArgs, UsageError } from "./cli/args.ts";
import { check } from "./cli/check.ts";
import { init } from "./cli/init.ts";
import { serve } from "./cli/serve.ts";
import { tokens } from "./cli/tokens.ts";
import { ConfigError } from "./config/loader.ts";
import { VERSION } from "./version.ts";

const HELP = `Switchboard ${VERSION} — a self-hosted AI gateway in one executable

Usage:
  switchboard [serve] [--config PATH] [--port N]   start the gateway (default command)
  switchboard init [DIR]                           write gateway.config.ts, an example plugin and switchboard.d.ts
  switchboard check [--config PATH]                validate the config and exit
  switchboard tokens create --gateway ID [--name N] [--expires 30d|12h|90m|4w|DATE] [--json]
                                                   make a gateway token; it is printed once
  switchboard tokens list [--gateway ID] [--json]  list gateway tokens (never their secrets)
  switchboard tokens revoke ID                     revoke a gateway token; it stops working at once
  switchboard --version | --help

Without --config, ./gateway.config.ts is used when present; otherwise a working default
(one "default" gateway, logs in ./data/switchboard.db, port 8787).
The tokens commands take --config PATH too; tokens live in the config's SQLite file, next to the logs.
Environment: SWITCHBOARD_ADMIN_TOKEN sets server.adminToken when the config does not.`;

const commands: Record<string, (args: ReturnType<typeof parseArgs>) => Promise<void>> = { serve, init, check, tokens };

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.flags.has("version")) return print(VERSION);
  if (args.flags.has("help") || args.command === "help") return print(HELP);
  const command = commands[args.command ?? "serve"];
  if (!command) throw new UsageError(`unknown command "${args.command}"; commands: ${Object.keys(commands).join(", ")}`);
  await command(args);
  return 0;
}

function print(text: string): number {
  console.log(text);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof ConfigError) console.error(`Invalid config ${error.message}`);
    else if (error instanceof UsageError) console.error(`${error.message}\n\n${HELP}`);
    else console.error(error instanceof Error ? error.message : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
