import { obj } from "../../providers/usage/fields.ts";
import { cannotExpress } from "../errors.ts";
import type { EmbeddingsTranslator } from "../translator.ts";
import { geminiModel } from "./request.ts";
import { geminiErrorBody } from "./response.ts";

/**
 * Embeddings through Gemini's `v1beta/models/{model}:batchEmbedContents`: one request per input
 * string (`dimensions` → `outputDimensionality`); the answer becomes an OpenAI embeddings list,
 * base64 float32 when the client asks (`encoding_format: "base64"`, the `openai` client's default).
 * Gemini reports no token usage for embeddings, so usage is 0.
 */
export const geminiEmbeddings: EmbeddingsTranslator = {
  passthrough: false,
  request(input, model) {
    const id = geminiModel(model);
    if (input.texts === null) throw cannotExpress("google-ai-studio", "token arrays as embedding input", "Gemini embeds text; send strings");
    const dimensions = input.raw.dimensions;
    const requests = input.texts.map((text) => ({
      model: `models/${id}`,
      content: { parts: [{ text }] },
      ...(typeof dimensions === "number" ? { outputDimensionality: dimensions } : {}),
    }));
    return { endpoint: `v1beta/models/${id}:batchEmbedContents`, search: "", body: { requests } };
  },
  answer(body, input, model) {
    const embeddings = obj(body)?.embeddings;
    const list = Array.isArray(embeddings) ? embeddings : [];
    const base64 = input.raw.encoding_format === "base64";
    const data = list.map((value, index) => {
      const values = obj(value)?.values;
      const vector = Array.isArray(values) ? values.map(Number) : [];
      return { object: "embedding", index, embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector };
    });
    return { object: "list", data, model, usage: { prompt_tokens: 0, total_tokens: 0 } };
  },
  error: geminiErrorBody,
};
