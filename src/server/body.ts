import { ErrorCode, GatewayError } from "../pipeline/errors.ts";

/**
 * Reads a request body whole, refusing it with 413 as soon as it passes `limit` bytes — by its
 * Content-Length when declared, by counting otherwise — so nothing is sent upstream.
 */
export async function readBody(request: Request, limit: number): Promise<Uint8Array | null> {
  if (!request.body) return null;
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(Number(declared), limit);
  if (declared !== null) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    return bytes.byteLength > 0 ? bytes : null;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(size, limit);
    chunks.push(chunk);
  }
  if (size === 0) return null;
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function tooLarge(size: number, limit: number): GatewayError {
  return new GatewayError(413, ErrorCode.BodyTooLarge, `Request body is larger than the gateway's limit of ${limit} bytes (server.maxBodyBytes); got at least ${size} bytes`);
}
