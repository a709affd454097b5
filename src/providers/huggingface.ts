import { bodyModel, setBearer } from "./common.ts";
import type { ProviderDef } from "./types.ts";
import { openaiUsage } from "./usage/openai.ts";

/**
 * Hugging Face Inference API: `/huggingface/bigcode/starcoder` →
 * `https://api-inference.huggingface.co/models/bigcode/starcoder`. The endpoint is the model id;
 * a chat-completions tail (`{model}/v1/chat/completions`) is not part of it.
 */
export const huggingface: ProviderDef = {
  slug: "huggingface",
  baseUrl: "https://api-inference.huggingface.co/models",
  authHeaders: ["authorization"],
  applyKey: setBearer,
  usage: openaiUsage,
  model(endpoint, body) {
    const id = endpoint.replace(/^\/+/, "").replace(/\/v1(\/.*)?$/, "").replace(/\/+$/, "");
    return id || bodyModel(body);
  },
};
