/**
 * `bun run build`: the gateway for this machine in dist/switchboard, with the commit baked in.
 * `bun run release` builds the downloadable binaries for every platform.
 */
import { buildCommit, compile } from "./compile.ts";

const commit = buildCommit();
await compile({ outfile: "dist/switchboard", commit });
console.log(`dist/switchboard (${commit})`);
