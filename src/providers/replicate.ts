import { bodyModel, setBearer } from "./common.ts";
import type { ProviderDef } from "./types.ts";
import { replicateUsage } from "./usage/replicate.ts";

/**
 * Replicate: `/replicate/predictions` → `https://api.replicate.com/v1/predictions`. The model is the
 * body's `version` (or `model`), else the `models/{owner}/{name}/predictions` path.
 */
export const replicate: ProviderDef = {
  slug: "replicate",
  baseUrl: "https://api.replicate.com/v1",
  authHeaders: ["authorization"],
  applyKey: setBearer,
  usage: replicateUsage,
  model(endpoint, body) {
    const version = typeof body === "object" && body !== null ? (body as Record<string, unknown>).version : undefined;
    if (typeof version === "string" && version !== "") return version;
    return bodyModel(body) ?? /(?:^|\/)models\/([^/]+\/[^/]+)/.exec(endpoint)?.[1] ?? null;
  },
};
