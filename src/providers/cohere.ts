import { bodyModel, setBearer } from "./common.ts";
import type { ProviderDef } from "./types.ts";
import { cohereUsage } from "./usage/cohere.ts";

/** Cohere: `/cohere/v2/chat`, `/cohere/v1/chat`, `/cohere/v2/embed` → `https://api.cohere.ai/…`. */
export const cohere: ProviderDef = {
  slug: "cohere",
  baseUrl: "https://api.cohere.ai",
  authHeaders: ["authorization"],
  applyKey: setBearer,
  usage: cohereUsage,
  model: (_endpoint, body) => bodyModel(body),
};
