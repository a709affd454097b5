import type { JsonObject } from "../providers/usage/fields.ts";
import { badFormat } from "./errors.ts";
import type { EmbeddingsInput } from "./translator.ts";

/**
 * Reads an OpenAI embeddings body: `input` is a string, an array of strings, or token arrays (which
 * only OpenAI-speaking providers take; `texts` is then null).
 */
export function readEmbeddings(raw: JsonObject): EmbeddingsInput {
  const input = raw.input;
  if (typeof input === "string") return { raw, texts: [input] };
  if (Array.isArray(input) && input.length > 0) {
    if (input.every((item) => typeof item === "string")) return { raw, texts: input as string[] };
    if (input.every((item) => typeof item === "number" || (Array.isArray(item) && item.every((n) => typeof n === "number")))) return { raw, texts: null };
  }
  throw badFormat('"input" must be a string, an array of strings, or an array of token arrays');
}
