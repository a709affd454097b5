import { bodyModel, setBearer } from "./common.ts";
import type { ProviderDef } from "./types.ts";
import { joinUrl, lastSegment } from "./url.ts";
import { workersAiUsage } from "./usage/workers-ai.ts";

/**
 * Cloudflare Workers AI. `/workers-ai/@cf/meta/llama-3.1-8b-instruct` (also `run/@cf/…`) →
 * `…/accounts/{account}/ai/run/@cf/…`; the OpenAI-compatible `/workers-ai/v1/chat/completions` and
 * `v1/embeddings` live beside `/run`: `…/accounts/{account}/ai/v1/chat/completions`, so a `/run`
 * base may reach its parent path (and nothing above it). Realtime (Deepgram STT/TTS): a WebSocket upgrade of
 * `/workers-ai?model=@cf/deepgram/nova-3&…` is relayed to `…/ai/run/@cf/deepgram/nova-3?…`.
 */
export const workersAi: ProviderDef = {
  slug: "workers-ai",
  baseUrl: "https://api.cloudflare.com/client/v4/accounts/{account}/ai/run",
  authHeaders: ["authorization"],
  applyKey: setBearer,
  usage: workersAiUsage,
  model(endpoint, body) {
    const path = stripRun(endpoint.replace(/^\/+/, ""));
    return path.startsWith("@") ? path : bodyModel(body);
  },
  url(base, endpoint, search) {
    const root = base.replace(/\/+$/, "");
    const path = endpoint.replace(/^\/+/, "");
    const parent = runParent(root);
    // Only rewrite bases shaped like the real one; a configured base without `/run` is used as written.
    if (parent === null) return joinUrl(root, path, search);
    if (/^v1(\/|$)/.test(path)) return joinUrl(parent, path, search);
    return joinUrl(root, stripRun(path), search);
  },
  reach(base) {
    const root = base.replace(/\/+$/, "");
    return runParent(root) ?? root;
  },
  realtime: { endpoint: "", modelInPath: true },
};

/** The parent of a base that ends in `/run` (where `v1/…` lives), or null for a base shaped otherwise. */
function runParent(root: string): string | null {
  return lastSegment(root) === "run" ? root.slice(0, root.lastIndexOf("/")) : null;
}

function stripRun(path: string): string {
  return path === "run" ? "" : path.startsWith("run/") ? path.slice(4) : path;
}
