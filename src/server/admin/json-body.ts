import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";

/**
 * An admin request body as a JSON object with only `allowed` fields; an empty body is `{}`.
 * Anything else is a 400 that says what was wrong.
 */
export function parseJsonObject(text: string, allowed: readonly string[]): Record<string, unknown> {
  let body: unknown;
  try {
    body = text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    throw badRequest("The body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("The body must be a JSON object");
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) throw badRequest(`Unknown field(s) ${unknown.join(", ")}; allowed: ${allowed.join(", ")}`);
  return fields;
}

export const badRequest = (message: string) => new GatewayError(400, ErrorCode.BadRequest, message);
