import { openAICompatible } from "./openai-compatible.ts";
import type { ProviderDef } from "./types.ts";
import { openaiRealtimeUsage } from "./usage/openai.ts";

/**
 * OpenAI: `/openai/chat/completions`, `/openai/responses`, `/openai/embeddings`, … → `https://api.openai.com/v1/…`.
 * Realtime: a WebSocket upgrade of `/openai?model=…` is relayed to `wss://api.openai.com/v1/realtime?model=…`;
 * browsers send the key as the `openai-insecure-api-key.<key>` subprotocol and `openai-beta.realtime-v1`.
 */
export const openai: ProviderDef = {
  ...openAICompatible("openai", "https://api.openai.com/v1"),
  realtime: {
    endpoint: "realtime",
    headers: ["openai-beta", "openai-organization", "openai-project"],
    protocolHeaders: {
      "openai-insecure-api-key": (key) => ["authorization", `Bearer ${key}`],
      "openai-beta": (value) => ["openai-beta", value.replace(/^realtime-v(\d+)$/, "realtime=v$1")],
    },
    usage: openaiRealtimeUsage,
  },
};
