import type { Metadata } from "../../pipeline/record.ts";
import type { LogPatch } from "../../store/types.ts";
import { badRequest, parseJsonObject } from "./json-body.ts";

const bad = badRequest;

const FIELDS = ["feedback", "score", "metadata"];

function metadata(value: unknown): Metadata | null {
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) throw bad("metadata must be a flat object of strings, numbers and booleans, or null");
  for (const [key, item] of Object.entries(value)) {
    if (!["string", "number", "boolean"].includes(typeof item) || (typeof item === "number" && !Number.isFinite(item))) {
      throw bad(`metadata.${key} must be a string, a number or a boolean`);
    }
  }
  return value as Metadata;
}

/**
 * Validates the body of `PATCH logs/{id}`: `{feedback?: -1|0|1, score?: 0..100, metadata?: {k: string|number|boolean}}`,
 * each field nullable (null clears it). Anything else is a 400 naming the field.
 */
export function parseLogPatch(text: string): LogPatch {
  const fields = parseJsonObject(text, FIELDS);
  const patch: LogPatch = {};
  if ("feedback" in fields) {
    const f = fields.feedback;
    if (f !== null && f !== -1 && f !== 0 && f !== 1) throw bad(`feedback must be -1, 0, 1 or null, got ${JSON.stringify(f)}`);
    patch.feedback = f;
  }
  if ("score" in fields) {
    const s = fields.score;
    if (s !== null && (typeof s !== "number" || !Number.isInteger(s) || s < 0 || s > 100)) {
      throw bad(`score must be an integer from 0 to 100 or null, got ${JSON.stringify(s)}`);
    }
    patch.score = s;
  }
  if ("metadata" in fields) patch.metadata = metadata(fields.metadata);
  return patch;
}
