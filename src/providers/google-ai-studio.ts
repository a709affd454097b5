import { bodyModel } from "./common.ts";
import type { ProviderDef } from "./types.ts";
import { googleUsage } from "./usage/google.ts";

/** `models/{model}:generateContent` (or `tunedModels/…`) anywhere in the endpoint. */
const MODEL_IN_PATH = /(?:^|\/)(?:tuned)?[mM]odels\/([^/:]+)/;

/**
 * Google AI Studio (Gemini API). `/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent` →
 * `https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent`.
 * The model is named in the path; the key travels as `x-goog-api-key` (or a bearer token).
 */
export const googleAiStudio: ProviderDef = {
  slug: "google-ai-studio",
  baseUrl: "https://generativelanguage.googleapis.com",
  authHeaders: ["x-goog-api-key", "authorization"],
  applyKey(headers, key) {
    headers.set("x-goog-api-key", key);
  },
  usage: googleUsage,
  model(endpoint, body) {
    return MODEL_IN_PATH.exec(endpoint)?.[1] ?? bodyModel(body);
  },
};
