import { join } from "node:path";
import { BUN, run } from "./cli.ts";

const ROOT = join(import.meta.dir, "../..");

/** Where `bun run build` puts the gateway. */
export const BINARY = join(ROOT, "dist/switchboard");

let built: Promise<string> | undefined;

/**
 * Builds the binary with the README's `bun run build`, once per test process (every file that runs
 * the binary shares the build), and resolves its path.
 */
export function builtBinary(): Promise<string> {
  built ??= run([BUN, "run", "build"], { cwd: ROOT }).then((build) => {
    if (build.exitCode !== 0) throw new Error(`bun run build failed (${build.exitCode}):\n${build.stdout}\n${build.stderr}`);
    return BINARY;
  });
  return built;
}
