/**
 * One `bun build --compile` of the gateway: the CLI entry plus the log writer thread (a Worker,
 * which the binary only contains when it is listed as an entrypoint; see
 * src/store/sqlite/log-writer.ts), with the git commit baked in for `switchboard --version`.
 * Shared by `bun run build` (scripts/build.ts) and `bun run release` (scripts/release.ts).
 */
import { join } from "node:path";
import { gitCommit } from "../src/version.ts";

/** The repository root. */
export const ROOT = join(import.meta.dir, "..");

/** The entrypoints, relative to the root; main first, since `--outfile` names the binary after it. */
export const ENTRYPOINTS = ["src/main.ts", "src/store/sqlite/log-writer.ts"] as const;

export interface CompileOptions {
  /** Where the executable goes (absolute, or relative to the root). */
  outfile: string;
  /** A `bun build --target`, e.g. `"bun-linux-arm64"`. @default the machine it runs on */
  target?: string;
  /** The commit `switchboard --version` prints. @default buildCommit() */
  commit?: string;
}

/**
 * The commit to bake in: `$SWITCHBOARD_COMMIT` when set (a Docker build has no .git), else
 * `git rev-parse --short HEAD` of the root, else `"unknown"`.
 *
 * @example buildCommit() // "c683d4d"
 */
export function buildCommit(): string {
  return process.env.SWITCHBOARD_COMMIT?.trim() || gitCommit(ROOT) || "unknown";
}

/**
 * Compiles the gateway into `outfile` with `--minify --sourcemap` (the map is embedded, so stack
 * traces name source lines; bun also writes `.map` files next to the outfile). Throws with bun's
 * output when the build fails. Cross-compiling fetches that target's Bun runtime from the npm
 * registry once, into bun's install cache.
 *
 * @example await compile({ outfile: "dist/switchboard-linux-arm64", target: "bun-linux-arm64" });
 */
export async function compile({ outfile, target, commit = buildCommit() }: CompileOptions): Promise<void> {
  const cmd = [
    process.execPath,
    "build",
    "--compile",
    "--minify",
    "--sourcemap",
    ...(target ? [`--target=${target}`] : []),
    // JSON.stringify: whatever the commit holds, it lands in the bundle as a string literal.
    "--define",
    `SWITCHBOARD_COMMIT=${JSON.stringify(commit)}`,
    ...ENTRYPOINTS,
    "--outfile",
    outfile,
  ];
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (exitCode !== 0) throw new Error(`bun build --compile${target ? ` --target=${target}` : ""} failed (exit ${exitCode}):\n${stdout}${stderr}`);
}
