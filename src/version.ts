import pkg from "../package.json" with { type: "json" };

/** The package version, e.g. `"0.1.0"`. */
export const VERSION: string = pkg.version;

/**
 * The git commit the binary was built from, baked in by `bun build --define` (scripts/compile.ts);
 * an undefined global when running from source, which `typeof` reads without throwing.
 */
declare const SWITCHBOARD_COMMIT: string | undefined;

/**
 * The short git commit this build came from: the one baked into a compiled binary, else what git
 * says about the source folder (running from a checkout), else `"unknown"`. Asks git at most once,
 * and only when called: `serve` never spawns it.
 *
 * @example commit() // "c683d4d"
 */
export function commit(): string {
  if (typeof SWITCHBOARD_COMMIT === "string" && SWITCHBOARD_COMMIT) return SWITCHBOARD_COMMIT;
  return (runtimeCommit ??= gitCommit(import.meta.dir) ?? "unknown");
}
let runtimeCommit: string | undefined;

/**
 * `git rev-parse --short HEAD` in `dir`, or null without git or outside a repository.
 *
 * @example gitCommit(import.meta.dir) // "c683d4d"
 */
export function gitCommit(dir: string): string | null {
  try {
    const git = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: dir, stdout: "pipe", stderr: "ignore" });
    const hash = git.stdout.toString().trim();
    return git.exitCode === 0 && /^[0-9a-f]{4,40}$/.test(hash) ? hash : null;
  } catch {
    // No git binary, or `dir` does not exist (the compiled binary's virtual /$bunfs folder).
    return null;
  }
}

/**
 * What `switchboard --version` prints.
 *
 * @example versionLine() // "switchboard 0.1.0 (c683d4d)"
 */
export function versionLine(): string {
  return `switchboard ${VERSION} (${commit()})`;
}
