import type { Plugin } from "switchboard";
import { logging } from "./logging.ts";

/** Built-in plugins by the name a config uses. A name listed in DEFAULT_PLUGINS but missing here is not built yet. */
export const builtInPlugins: Record<string, () => Plugin> = {
  logging,
};
