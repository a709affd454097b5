/**
 * `bun run release [--targets linux-x64,darwin-arm64] [--out DIR]`: cross-compiles the gateway for
 * each platform, one after another, into dist/release/ as `switchboard-<target>` (`.exe` on
 * Windows), and writes dist/release/SHA256SUMS for `sha256sum -c`. Prints each artifact with its
 * size, hash and build time.
 *
 * @example
 * const artifacts = await release({ targets: ["linux-x64"], outDir: "/tmp/rel" });
 * // [{ target: "linux-x64", name: "switchboard-linux-x64", bytes: 109918384, sha256: "…", … }]
 */
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { sha256File, sumsLine } from "./checksums.ts";
import { buildCommit, compile, ROOT } from "./compile.ts";

/** The platforms a release ships, as named in the artifacts, with bun's `--target` for each. */
export const TARGETS = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
  "darwin-arm64": "bun-darwin-arm64",
  "darwin-x64": "bun-darwin-x64",
  "windows-x64": "bun-windows-x64",
} as const;

export type Target = keyof typeof TARGETS;

/** The checksum file's name in the release folder. */
export const SUMS_FILE = "SHA256SUMS";

export interface ReleaseOptions {
  /** @default every platform in TARGETS, in that order */
  targets?: readonly Target[];
  /** @default "<root>/dist/release" */
  outDir?: string;
  /** The commit baked into every artifact. @default buildCommit() */
  commit?: string;
  /** Progress lines. @default console.log */
  log?: (line: string) => void;
}

/** One built binary. */
export interface Artifact {
  target: Target;
  /** File name in the release folder, e.g. `switchboard-windows-x64.exe`. */
  name: string;
  path: string;
  bytes: number;
  sha256: string;
  /** Build time in ms. */
  ms: number;
}

/** The artifact's file name for a target. */
export function artifactName(target: Target): string {
  return `switchboard-${target}${target.startsWith("windows-") ? ".exe" : ""}`;
}

/**
 * Builds the targets into `outDir` and writes its SHA256SUMS for exactly those. Earlier artifacts
 * and sums in `outDir` are removed first, so the folder never holds a binary its SHA256SUMS does
 * not vouch for; nothing else there is touched.
 */
export async function release({ targets = Object.keys(TARGETS) as Target[], outDir = join(ROOT, "dist/release"), commit = buildCommit(), log = console.log }: ReleaseOptions = {}): Promise<Artifact[]> {
  mkdirSync(outDir, { recursive: true });
  for (const name of [...(Object.keys(TARGETS) as Target[]).map(artifactName), SUMS_FILE]) rmSync(join(outDir, name), { force: true });
  log(`switchboard release (${commit}) → ${shortPath(outDir)}`);
  const artifacts: Artifact[] = [];
  for (const target of targets) {
    const name = artifactName(target);
    // bun writes .map files next to the outfile; build in a scratch folder so only the binary ships.
    const scratch = join(outDir, `.build-${target}`);
    rmSync(scratch, { recursive: true, force: true });
    const started = performance.now();
    try {
      await compile({ outfile: join(scratch, name), target: TARGETS[target], commit });
      renameSync(join(scratch, name), join(outDir, name));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    const path = join(outDir, name);
    const artifact = { target, name, path, bytes: Bun.file(path).size, sha256: await sha256File(path), ms: Math.round(performance.now() - started) };
    artifacts.push(artifact);
    log(`  ${name.padEnd(30)} ${mib(artifact.bytes).padStart(10)}  sha256 ${artifact.sha256}  ${(artifact.ms / 1000).toFixed(1)} s`);
  }
  await Bun.write(join(outDir, SUMS_FILE), artifacts.map((a) => `${sumsLine(a.sha256, a.name)}\n`).join(""));
  log(`  ${SUMS_FILE}`);
  return artifacts;
}

function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") ? path : rel;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Reads `--targets a,b` and `--out DIR`; throws a message naming the valid targets on a bad one. */
export function parseReleaseArgs(argv: readonly string[]): { targets?: Target[]; outDir?: string; help: boolean } {
  const { values } = parseArgs({
    args: [...argv],
    options: { targets: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: false,
  });
  const known = Object.keys(TARGETS);
  let targets: Target[] | undefined;
  if (values.targets !== undefined) {
    const names = values.targets.split(",").map((name) => name.trim()).filter(Boolean);
    const unknown = names.filter((name) => !known.includes(name));
    if (names.length === 0 || unknown.length > 0) throw new Error(`--targets takes a comma-separated list of ${known.join(", ")}; got "${values.targets}"`);
    targets = [...new Set(names)] as Target[];
  }
  return { targets, outDir: values.out === undefined ? undefined : resolve(values.out), help: values.help === true };
}

const USAGE = `Usage: bun run release [--targets ${Object.keys(TARGETS).join(",")}] [--out DIR]
Builds switchboard-<target> for each target (default: all) into DIR (default: dist/release)
with a SHA256SUMS file for \`sha256sum -c\`. SWITCHBOARD_COMMIT overrides the commit baked in.`;

if (import.meta.main) {
  let args: ReturnType<typeof parseReleaseArgs>;
  try {
    args = parseReleaseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) console.log(USAGE);
  else {
    try {
      await release(args);
    } catch (error) {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    }
  }
}
