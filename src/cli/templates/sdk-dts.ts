/**
 * The `switchboard.d.ts` that `switchboard init` writes: the public module's types, so an editor
 * type-checks gateway.config.ts and plugins with no install step. It mirrors src/sdk.ts;
 * test/cli/init.test.ts type-checks the files init writes against it and against the real SDK.
 */
import { CONFIG_TYPES } from "./sdk-dts-config.ts";
import { PLUGIN_TYPES } from "./sdk-dts-plugin.ts";
import { REQUEST_TYPES } from "./sdk-dts-request.ts";

export const SDK_DTS = `// Types of the "switchboard" module, written by \`switchboard init\`. The gateway binary provides
// the module itself at run time; this file only serves your editor and \`tsc\`.
declare var process: { env: Record<string, string | undefined> };

declare module "switchboard" {
${CONFIG_TYPES}
${REQUEST_TYPES}
${PLUGIN_TYPES}
}
`;
