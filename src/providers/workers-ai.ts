import { bodyModel, setBearer } from "./common.ts";
import type { ProviderDef } from "./types.ts";
import { joinUrl, lastSegment } from "./url.ts";
import { workersAiUsage } from "./usage/workers-ai.ts";

/**
 * Cloudflare Workers AI. `/workers-ai/@cf/meta/llama-3.1-8b-instruct` (also `run/@cf/…`) →
 * `…/accounts/{account}/ai/run/@cf/…`; the OpenAI-compatible `/workers-ai/v1/chat/completions` and
 * `v1/embeddings` live beside `/run`: `…/accounts/{account}/ai/v1/chat/completions`.
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
    // Only rewrite bases shaped like the real one; a configured base without `/run` is used as written.
    if (lastSegment(root) !== "run") return joinUrl(root, path, search);
    if (/^v1(\/|$)/.test(path)) return joinUrl(root.slice(0, root.lastIndexOf("/")), path, search);
    return joinUrl(root, stripRun(path), search);
  },
};

function stripRun(path: string): string {
  return path === "run" ? "" : path.startsWith("run/") ? path.slice(4) : path;
}
