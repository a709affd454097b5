import { ErrorCode, GatewayError } from "../pipeline/errors.ts";

/** Where a `/v1/…` request goes, read from the request-target. */
export interface Target {
  account: string;
  gateway: string;
  provider: string | null;
  /** Everything after the provider slug, raw as sent (`@cf/…`, `models/x:generateContent`). */
  endpoint: string;
  /** The query string with its `?`, or "". */
  search: string;
}

/** The path and query string of a request-target. */
export interface RequestPath {
  /** Starts with `/`, or is "" when the target has no path (`CONNECT host:443`). */
  path: string;
  /** The query string with its `?`, or "". */
  search: string;
}

/**
 * The path and query of `request.url`, found without trusting its host part; never throws.
 *
 * What Bun 1.4.5 puts in `request.url` (probed with raw HTTP over `node:net`):
 * - `GET /p?q HTTP/1.1` + `Host: h` → `http://h/p?q`.
 * - HTTP/1.0 without Host, or a Host holding a space, a tab, non-ASCII or one of `" # / < > ? @ \ ^ { | }`
 *   or a backtick → `/p?q`: a relative URL, so `new URL(request.url)` throws and "the path after
 *   `//`" is off by a segment.
 * - `Host: [bad`, `h:abc`, `%2F`, `bad]` are kept as sent (`http://[bad/p?q`): `new URL()` throws.
 *   A kept host never holds `/`, `?`, `#` or `\`, so the first `/` after `://` starts the path.
 * - Absolute-form `POST http://evil/p HTTP/1.1` + `Host: h` → `http://h/p`: the target's own
 *   scheme and authority are dropped, the Host header wins; `GET http://evil HTTP/1.1` → `http://h/`.
 * - `CONNECT host:443` → `host:443` (authority-form, no path); `CONNECT /p` → `http://h/p`.
 * - Dot segments are resolved, plain or encoded, after routing: `/v1/%2e%2e/x` reaches the `/v1/*`
 *   route with url `http://h/x`. A `#fragment` stays in the url.
 * - Never reach JavaScript: `*` and targets without a leading `/` (Bun answers 400 itself, no body),
 *   a lower-case or unregistered method such as `FOO` (Bun closes the connection without an answer).
 *
 * @example
 * requestPath("/v1/a/b/openai/x?k=1"); // { path: "/v1/a/b/openai/x", search: "?k=1" }
 * requestPath("http://[bad/v1/a/b/openai/x"); // { path: "/v1/a/b/openai/x", search: "" }
 */
export function requestPath(url: string): RequestPath {
  const start = url.charCodeAt(0) === 47 /* "/" */ ? 0 : pathAfterAuthority(url);
  if (start === -1) return { path: "", search: "" };
  const query = url.indexOf("?", start);
  // A `#` stays where Bun left it (in the path or the query): the upstream URL guard refuses it.
  return query === -1 ? { path: url.slice(start), search: "" } : { path: url.slice(start, query), search: url.slice(query) };
}

function pathAfterAuthority(url: string): number {
  const scheme = url.indexOf("://");
  return scheme === -1 ? -1 : url.indexOf("/", scheme + 3);
}

const USAGE = "provider requests go to /v1/{account}/{gateway}/{provider}/{path}";

/**
 * Reads `/v1/{account}/{gateway}/{provider}/{endpoint…}?{query}` from `request.url`. Account, gateway
 * and provider are percent-decoded; the endpoint is checked to decode but passed on raw. Throws a
 * 404 GatewayError when the resolved path left `/v1/`, and a 400 when a segment is missing or malformed.
 *
 * @example
 * parseTarget("http://h/v1/acct/default/workers-ai/@cf/meta/llama?x=1");
 * // { account: "acct", gateway: "default", provider: "workers-ai", endpoint: "@cf/meta/llama", search: "?x=1" }
 */
export function parseTarget(url: string): Target {
  const { path, search } = requestPath(url);
  // Bun matched `/v1/*` on the raw path but resolves dot segments in the url: `/v1/%2e%2e/x` is `/x`.
  if (!path.startsWith("/v1/")) throw new GatewayError(404, ErrorCode.NotFound, `No route for ${path || "this request-target"}; ${USAGE}`);
  const parts = path.split("/");
  const [, , account = "", gateway = "", provider = ""] = parts;
  if (!account || !gateway) throw new GatewayError(400, ErrorCode.BadRequest, `Malformed path; ${USAGE}`);
  const endpoint = parts.slice(5).join("/");
  if (endpoint.includes("%")) parts.slice(5).forEach(decode);
  return { account: decode(account), gateway: decode(gateway), provider: provider ? decode(provider) : null, endpoint, search };
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError(400, ErrorCode.BadRequest, `Malformed percent-encoding in path segment "${segment}"`);
  }
}
