/** Which headers cross the gateway, and which never reach a log. */

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
  // Bun's fetch negotiates and decodes compression itself; a client's value would break that.
  "accept-encoding",
]);

/** Cloudflare's deprecated spellings of cf-aig-cache-ttl / cf-aig-skip-cache: gateway options, never the provider's. */
const DEPRECATED_OPTIONS = new Set(["cf-cache-ttl", "cf-skip-cache"]);

/** True for a gateway option: `cf-aig-*` and Cloudflare's deprecated `cf-cache-ttl` / `cf-skip-cache` (lower-case name). */
export function isGatewayOption(name: string): boolean {
  return name.startsWith("cf-aig-") || DEPRECATED_OPTIONS.has(name);
}

/** True for a header that never goes upstream: hop-by-hop, or a gateway option (lower-case name). */
export function staysAtGateway(name: string): boolean {
  return HOP_BY_HOP.has(name) || isGatewayOption(name);
}

/** The client's headers as they go upstream: no hop-by-hop header and no `cf-aig-*` header. */
export function upstreamHeaders(client: Headers): Headers {
  // A native copy, then the few names that stay here deleted: about half the cost of copying one by one.
  const out = new Headers(client);
  // RFC 9110 §7.6.1: headers the client's Connection header names are hop-by-hop too.
  const connection = client.get("connection");
  const named = connection ? new Set(connection.toLowerCase().split(",").map((token) => token.trim())) : null;
  for (const name in client.toJSON()) {
    if (staysAtGateway(name) || named?.has(name)) out.delete(name);
  }
  return out;
}

const NOT_FOR_CLIENT = ["connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length", "date"];

/**
 * The provider's headers made fit for the client, in place (no copy on the hot path). Bun's fetch
 * already decoded the body, so the encoding and length no longer describe what we send.
 */
export function toClientHeaders(headers: Headers): Headers {
  for (const name of NOT_FOR_CLIENT) headers.delete(name);
  return headers;
}

const SECRET_HEADERS = new Set([
  "authorization",
  "proxy-authorization",
  "cf-aig-authorization",
  "x-api-key",
  "api-key",
  "x-goog-api-key",
  "xi-api-key",
  "x-auth-key",
  "cookie",
  "set-cookie",
]);
const SECRET_NAME = /(key|token|secret|password|auth|signature|credential)/i;

/** Whether a header name carries a credential, remembered per name (requests repeat the same few names). */
const secretNames = new Map<string, boolean>();
export function isSecret(name: string): boolean {
  let secret = secretNames.get(name);
  if (secret === undefined) {
    secret = SECRET_HEADERS.has(name) || SECRET_NAME.test(name);
    // Names come from clients: remember a bounded number of them.
    if (secretNames.size < 4096) secretNames.set(name, secret);
  }
  return secret;
}

/**
 * What may stand for a credential where its value must not be stored (a rate-limit or budget bucket
 * per API key): 32 hex digits of its SHA-256, the same for the same value in every replica.
 */
export function credentialDigest(value: string): string {
  return new Bun.CryptoHasher("sha256").update(value).digest("hex").slice(0, 32);
}

/** Headers as a plain object with every credential's value replaced; what logs may keep. */
export function redactHeaders(headers: Headers): Record<string, string> {
  // Bun's toJSON builds the object natively, at about half the cost of iterating the Headers.
  const out = headers.toJSON() as Record<string, string | string[]>;
  for (const name in out) {
    if (isSecret(name)) out[name] = "[redacted]";
    else if (Array.isArray(out[name])) out[name] = (out[name] as string[]).join(", ");
  }
  return out as Record<string, string>;
}
