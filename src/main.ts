#!/usr/bin/env bun
import { commandHelp, parseCommandLine, UsageError, usageLine, type Command } from "./cli/args.ts";
import { checkCommand } from "./cli/check.ts";
import { initCommand } from "./cli/init.ts";
import { logsCommand } from "./cli/logs.ts";
import { migrateCommand } from "./cli/migrate.ts";
import { serveCommand } from "./cli/serve.ts";
import { statsCommand } from "./cli/stats.ts";
import { tokenCommands } from "./cli/tokens.ts";
import { ConfigError } from "./config/loader.ts";
import { VERSION, versionLine } from "./version.ts";

const COMMANDS: readonly Command[] = [serveCommand, initCommand, checkCommand, ...tokenCommands, statsCommand, logsCommand, migrateCommand];

function help(): string {
  const lines = COMMANDS.map((command) => [usageLine(command), command.summary]);
  return `Switchboard ${VERSION} — a self-hosted AI gateway in one executable

Usage:
${lines.map(([usage, summary]) => `  ${usage}\n      ${summary}`).join("\n")}
  switchboard --version | version | --help | COMMAND --help

Without --config, ./gateway.config.ts is used when present; otherwise a working default
(one "default" gateway, logs in ./data/switchboard.db, port 8787).
The tokens, stats and logs commands take --config PATH too: they read the config's SQLite file (or
PostgreSQL, with storage.postgres), and stats and logs only read it, so they are safe next to a running
gateway. migrate brings the PostgreSQL schema up to date; SQLite migrates itself.
Environment: SWITCHBOARD_ADMIN_TOKEN sets server.adminToken when the config does not.`;
}

async function main(argv: string[]): Promise<number> {
  // `version` as a word, like `help`; args.ts handles the --version/-v flags.
  const parsed = argv[0] === "version" ? ({ kind: "version" } as const) : parseCommandLine(argv, COMMANDS, help);
  if (parsed.kind === "version") console.log(versionLine());
  else if (parsed.kind === "help") console.log(parsed.text);
  else await parsed.command.run(parsed.args);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof ConfigError) console.error(`Invalid config ${error.message}`);
    else if (error instanceof UsageError) {
      const usage = typeof error.usage === "string" ? error.usage : error.usage ? commandHelp(error.usage) : help();
      console.error(`${error.message}\n\n${usage}`);
    } else console.error(error instanceof Error ? error.message : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
