import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";

/** Most bytes an admin request body may have: the API takes small JSON objects (a token's name, a log's feedback). */
export const MAX_ADMIN_BODY_BYTES = 64 * 1024;

/**
 * An admin request body as text, read only up to {@link MAX_ADMIN_BODY_BYTES}: a larger one, declared or
 * counted as it arrives, is a 413 and is not held. (Bun's own body limit is off: the gateway bounds bodies.)
 */
export async function readAdminBody(request: Request): Promise<string> {
  const tooLarge = () => new GatewayError(413, ErrorCode.BodyTooLarge, `The admin API takes JSON bodies of at most ${MAX_ADMIN_BODY_BYTES} bytes`);
  if (Number(request.headers.get("content-length")) > MAX_ADMIN_BODY_BYTES) throw tooLarge();
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ADMIN_BODY_BYTES) {
      reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

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
