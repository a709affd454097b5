import type { Plugin } from "../pipeline/types.ts";
import { DEFAULT_PLUGINS } from "./defaults.ts";

const HOOKS = ["setup", "handle", "onComplete", "close"] as const;
/** Built-ins a config may name that are not in the default chain. */
export const OPT_IN_PLUGINS = ["guardrails"] as const;

/** Checks the `plugins` array beyond what the schema can say: known names, callable hooks, unique names. */
export function validatePlugins(plugins: unknown[] | undefined, known: readonly string[] = [...DEFAULT_PLUGINS, ...OPT_IN_PLUGINS]): string[] {
  if (!plugins) return [];
  const problems: string[] = [];
  const seen = new Set<string>();
  plugins.forEach((entry, index) => {
    const at = `plugins.${index}`;
    const name = typeof entry === "string" ? entry : (entry as Plugin).name;
    if (typeof entry === "string" && !known.includes(entry)) {
      problems.push(`${at}: unknown built-in plugin "${entry}"; built-ins are ${known.join(", ")}`);
    }
    if (typeof entry === "object" && entry !== null) {
      for (const hook of HOOKS) {
        const value = (entry as Record<string, unknown>)[hook];
        if (value !== undefined && typeof value !== "function") problems.push(`${at}.${hook}: must be a function`);
      }
      if (!HOOKS.some((hook) => typeof (entry as Record<string, unknown>)[hook] === "function")) {
        problems.push(`${at}: plugin "${name}" has none of ${HOOKS.join(", ")}`);
      }
    }
    if (seen.has(name)) problems.push(`${at}: plugin "${name}" appears twice`);
    seen.add(name);
  });
  return problems;
}
