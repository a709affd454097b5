/** A small argv reader: `command [positional…] [--flag value|--flag=value|--switch]`. */
export interface Args {
  command: string | undefined;
  positional: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      if (eq !== -1) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
      else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith("-")) flags.set(arg.slice(2), argv[++i]);
      else flags.set(arg.slice(2), true);
    } else if (arg === "-h") flags.set("help", true);
    else if (arg === "-v") flags.set("version", true);
    else positional.push(arg);
  }
  return { command: positional.shift(), positional, flags };
}

export function stringFlag(args: Args, name: string): string | undefined {
  const value = args.flags.get(name);
  if (value === true) throw new UsageError(`--${name} needs a value`);
  return value;
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}
