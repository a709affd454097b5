import { parseArgs } from "node:util";

/**
 * The command line: `switchboard [command [action]] [positional…] [--flag value|--flag=value|--switch]`,
 * read with `node:util`'s strict `parseArgs` against each command's own flags, so a misspelt flag,
 * a missing value or a stray argument is a usage error (exit 2) that names it.
 */

/** One flag of a command. */
export interface Flag {
  type: "string" | "boolean";
  /** What the value looks like in help, e.g. `PATH`; only for string flags. */
  value?: string;
  short?: string;
  help: string;
}

/** A command: what `switchboard NAME --help` prints and what runs it. */
export interface Command {
  /** `serve`, or `tokens create` for an action of a command group. */
  name: string;
  /** What follows the name in the usage line, e.g. `[DIR] [--force]`. */
  synopsis: string;
  /** One line for `switchboard --help`. */
  summary: string;
  flags: Record<string, Flag>;
  /** How many positional arguments it takes, and the message when there are too many or too few. @default none */
  positionals?: { min: number; max: number; message: string };
  run(args: Args): Promise<void>;
}

/** What a command gets: its flags' values and its positional arguments. */
export interface Args {
  command: string;
  positional: string[];
  values: Record<string, string | boolean | undefined>;
}

/** A mistake in how the CLI was called; `main` prints it with the command's usage and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(
    message: string,
    /** What to print under the message: a command (its help) or help text; the global help when absent. */
    readonly usage?: Command | string,
  ) {
    super(message);
  }
}

export type Parsed = { kind: "version" } | { kind: "help"; text: string } | { kind: "run"; command: Command; args: Args };

const HELP_FLAG: Flag = { type: "boolean", short: "h", help: "show this help" };

/**
 * Finds the command (`serve` when the first argument is a flag or there is none) and reads its flags.
 * `--version`/`-v` and `--help`/`-h`/`help [COMMAND]` in first place are global.
 */
export function parseCommandLine(argv: readonly string[], commands: readonly Command[], globalHelp: () => string): Parsed {
  const [first, second] = argv;
  if (first === "--version" || first === "-v") return { kind: "version" };
  if (first === "--help" || first === "-h") return { kind: "help", text: globalHelp() };
  if (first === "help") return { kind: "help", text: second === undefined ? globalHelp() : groupHelp(second, commands) ?? globalHelp() };

  const name = first === undefined || first.startsWith("-") ? "serve" : first;
  const rest = name === "serve" && first !== "serve" ? argv : argv.slice(1);
  let command = commands.find((c) => c.name === name);
  let args = rest;
  if (!command) {
    // A command group (`tokens`): the next argument names the action.
    const group = commands.filter((c) => c.name.startsWith(`${name} `));
    if (group.length === 0) throw new UsageError(`unknown command "${name}"; commands: ${[...new Set(commands.map((c) => c.name.split(" ")[0]))].join(", ")}`);
    const actions = group.map((c) => c.name.slice(name.length + 1));
    const action = rest[0];
    if (action === "--help" || action === "-h") return { kind: "help", text: groupHelp(name, commands)! };
    command = group.find((c) => c.name === `${name} ${action}`);
    const list = `${actions.slice(0, -1).join(", ")} or ${actions.at(-1)}`;
    if (!command) throw new UsageError(`${name} needs ${list}${action !== undefined ? `; got "${action}"` : ""}`, groupHelp(name, commands));
    args = rest.slice(1);
  }
  return readFlags(command, args);
}

function readFlags(command: Command, argv: readonly string[]): Parsed {
  const options = Object.fromEntries(
    Object.entries({ ...command.flags, help: HELP_FLAG }).map(([name, flag]) => [name, flag.short ? { type: flag.type, short: flag.short } : { type: flag.type }]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(describeParseError(command, error), command);
  }
  if (parsed.values.help === true) return { kind: "help", text: commandHelp(command) };
  const { min, max, message } = command.positionals ?? { min: 0, max: 0, message: `${command.name} takes no positional argument` };
  if (parsed.positionals.length > max) {
    throw new UsageError(max === 0 ? `${message}; got "${parsed.positionals[0]}"` : message, command);
  }
  if (parsed.positionals.length < min) throw new UsageError(message, command);
  // No flag is declared `multiple`, so no value is an array.
  return { kind: "run", command, args: { command: command.name, positional: parsed.positionals, values: parsed.values as Args["values"] } };
}

/** `parseArgs`' errors in this CLI's words; each names the flag. */
function describeParseError(command: Command, error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  const flag = /'(-[^' ]+)/.exec(message ?? "")?.[1] ?? "a flag";
  const known = Object.keys(command.flags).map((name) => `--${name}`);
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `${command.name} does not take ${flag}; ${known.length ? `it takes ${known.join(", ")}` : "it takes no flags"}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /does not take an argument/.test(message ?? "") ? `${flag} takes no value` : `${flag} needs a value`;
    default:
      return message ?? String(error);
  }
}

/** The value of a string flag, if given. */
export function stringFlag(args: Args, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

/** Whether a boolean flag was given. */
export function booleanFlag(args: Args, name: string): boolean {
  return args.values[name] === true;
}

/** `switchboard NAME SYNOPSIS`. */
export function usageLine(command: Command): string {
  return `switchboard ${command.name}${command.synopsis ? ` ${command.synopsis}` : ""}`;
}

/** What `switchboard NAME --help` prints. */
export function commandHelp(command: Command): string {
  const rows = Object.entries({ ...command.flags, help: HELP_FLAG }).map(([name, flag]) => [
    `${flag.short ? `-${flag.short}, ` : ""}--${name}${flag.value ? ` ${flag.value}` : ""}`,
    flag.help,
  ]);
  const width = Math.max(...rows.map(([left]) => left.length));
  return [`Usage: ${usageLine(command)}`, "", command.summary, "", "Flags:", ...rows.map(([left, help]) => `  ${left.padEnd(width)}  ${help}`)].join("\n");
}

/** Help for a command, or for every action of a command group; undefined when no command has this name. */
function groupHelp(name: string, commands: readonly Command[]): string | undefined {
  const exact = commands.find((c) => c.name === name);
  if (exact) return commandHelp(exact);
  const group = commands.filter((c) => c.name.startsWith(`${name} `));
  if (group.length === 0) return undefined;
  return group.map(commandHelp).join("\n\n");
}
