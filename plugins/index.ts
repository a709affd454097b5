import type { Plugin } from "switchboard";
import { auth } from "./auth.ts";
import { budget } from "./budget/index.ts";
import { cache } from "./cache/index.ts";
import { fallback } from "./fallback/index.ts";
import { guardrails } from "./guardrails/index.ts";
import { logging } from "./logging.ts";
import { metadata } from "./metadata.ts";
import { rateLimit } from "./rate-limit/index.ts";

/** Built-in plugins by the name a config uses. A name listed in DEFAULT_PLUGINS but missing here is not built yet. */
export const builtInPlugins: Record<string, () => Plugin> = {
  auth,
  budget,
  cache,
  fallback,
  guardrails,
  logging,
  metadata,
  "rate-limit": rateLimit,
};
