import { bodyModel } from "./common.ts";
import type { ProviderDef } from "./types.ts";
import { anthropicUsage } from "./usage/anthropic.ts";

/**
 * Anthropic: `/anthropic/v1/messages` → `https://api.anthropic.com/v1/messages`.
 * The SDK sends the key as `x-api-key` or `Authorization: Bearer` depending on version and options,
 * so both count as the credential (CONTRACT.md).
 */
export const anthropic: ProviderDef = {
  slug: "anthropic",
  baseUrl: "https://api.anthropic.com",
  authHeaders: ["x-api-key", "authorization"],
  applyKey(headers, key) {
    headers.set("x-api-key", key);
  },
  usage: anthropicUsage,
  model: (_endpoint, body) => bodyModel(body),
};
