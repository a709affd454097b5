/**
 * The bench's settings: `bun bench/run.ts`'s flags, parsed and checked once when this module is first
 * imported, then read-only. `--help` prints run.ts's doc comment (the usage text) and exits 0; a bad
 * value prints one line and exits 2 (usage).
 */
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The flags, checked; defaults as in `parseArgs` below. */
export interface Settings {
  /** `--targets`, as given (comma-separated), or undefined for the default set. */
  readonly targets: string | undefined;
  readonly connections: readonly number[];
  /** Seconds measured per load run. */
  readonly duration: number;
  /** Seconds of warm-up per load run. */
  readonly warmup: number;
  readonly rounds: number;
  /** ms the mock waits before each answer. */
  readonly delay: number;
  readonly stream: boolean;
  readonly peers: boolean;
  readonly shared: boolean;
  readonly client: "raw" | "fetch";
  /** Where to write the JSON report, as given. */
  readonly json: string | undefined;
}

/** Prints `bench: <msg> (see --help)` and exits 2. */
export function usage(msg: string): never {
  console.error(`bench: ${msg} (see --help)`);
  process.exit(2);
}

function parse(): Settings {
  const { values: args } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      targets: { type: "string" },
      connections: { type: "string", default: "1,32,128" },
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      rounds: { type: "string", default: "1" },
      delay: { type: "string", default: "0" },
      stream: { type: "boolean", default: false },
      peers: { type: "boolean", default: false },
      shared: { type: "boolean", default: false },
      client: { type: "string", default: "raw" },
      json: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (args.help) {
    // The usage text is the entry point's doc comment.
    const src = readFileSync(join(import.meta.dir, "run.ts"), "utf8");
    console.log(src.slice(src.indexOf("/**") + 4, src.indexOf("*/")).replace(/^ \* ?/gm, ""));
    process.exit(0);
  }
  const connections = args.connections.split(",").map((s) => Number(s.trim()));
  if (!connections.length || connections.some((c) => !Number.isInteger(c) || c < 1 || c > 1024))
    usage("--connections takes integers 1..1024, comma-separated");
  const duration = Number(args.duration);
  if (!(duration >= 0.5 && duration <= 600)) usage("--duration takes seconds, 0.5..600");
  const warmup = Number(args.warmup);
  if (!(warmup >= 0 && warmup <= 60)) usage("--warmup takes seconds, 0..60");
  const rounds = Number(args.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) usage("--rounds takes 1..20");
  const delay = Number(args.delay);
  if (!(delay >= 0 && delay <= 60_000)) usage("--delay takes ms, 0..60000");
  const client = args.client;
  if (client !== "raw" && client !== "fetch") usage("--client is raw or fetch");
  return Object.freeze({
    targets: args.targets,
    connections: Object.freeze(connections),
    duration,
    warmup,
    rounds,
    delay,
    stream: args.stream,
    peers: args.peers,
    shared: args.shared,
    client,
    json: args.json,
  });
}

/** The settings of this run. */
export const settings: Settings = parse();
