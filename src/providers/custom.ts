import { openAICompatible } from "./openai-compatible.ts";
import type { ProviderDef } from "./types.ts";

/** Slug of a configured custom provider: `custom-` then letters, digits and hyphens. */
export const CUSTOM_SLUG = /^custom-[A-Za-z0-9][A-Za-z0-9-]*$/;

/**
 * A `custom-{name}` provider from config: `/custom-{name}/{path}` → `{baseUrl}/{path}` (version segment
 * not doubled). Auth headers pass through; every common credential header counts as the credential,
 * and a gateway-held key is written as `Authorization: Bearer`. Usage is read OpenAI-style. A WebSocket
 * upgrade of `/custom-{name}/{path}` is relayed to `{baseUrl}/{path}` (ws:// or wss://).
 *
 * @example customProvider("custom-local", "http://127.0.0.1:11434/v1")
 */
export function customProvider(slug: string, baseUrl: string): ProviderDef {
  return { ...openAICompatible(slug, baseUrl.replace(/\/+$/, "")), authHeaders: ["authorization", "x-api-key", "api-key"], realtime: { endpoint: "" } };
}
