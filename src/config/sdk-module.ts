import { plugin } from "bun";
import * as sdk from "../sdk.ts";

let registered = false;

/**
 * Makes `import … from "switchboard"` resolve to this process's own SDK in every file loaded at run
 * time (the user's config and plugins), in `bun src/main.ts` and in the compiled binary alike.
 */
export function registerSdkModule(): void {
  if (registered) return;
  registered = true;
  plugin({
    name: "switchboard-sdk",
    setup(build) {
      build.module("switchboard", () => ({ exports: { ...sdk }, loader: "object" }));
    },
  });
}
