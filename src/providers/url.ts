import { ErrorCode, GatewayError } from "../pipeline/errors.ts";
import { echo } from "./url-guard.ts";

/** A path segment that names an API version: `v1`, `v2`, `v4`, `v1beta`, `v1alpha1`, … */
const VERSION_SEGMENT = /^v\d+(?:[a-z]+\d*)?$/;

/** The last `/`-separated piece of a URL without a trailing slash (the host when there is no path). */
export function lastSegment(url: string): string {
  return url.slice(url.lastIndexOf("/") + 1);
}

/** A Cloudflare account id: letters, digits, `-` and `_`, at most 64 characters. */
const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Any other value put into a base URL's `{placeholder}`: a plain URL token that cannot end a host,
 * start a path, query or fragment, or be a dot segment. Providers check their own, stricter rules
 * first (Azure's resource and deployment names); this is the registry's second line.
 */
const PLACEHOLDER_VALUE = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,63}$/;

/**
 * Replaces `{account}` in a base URL with the account from the request path. When the base uses it,
 * the account must be a Cloudflare account id (letters, digits, `-`, `_`, up to 64 characters);
 * anything else is refused with a 400 (BadRequest) before it can shape the URL.
 *
 * @example fillAccount("https://api.cloudflare.com/client/v4/accounts/{account}/ai/run", "0123abcd") // "…/accounts/0123abcd/ai/run"
 */
export function fillAccount(base: string, accountId: string): string {
  if (!base.includes("{account}")) return base;
  if (!ACCOUNT_ID.test(accountId)) {
    throw new GatewayError(
      400,
      ErrorCode.BadRequest,
      `Invalid account id ${echo(accountId)} in the path: use up to 64 letters, digits, "-" and "_" (a Cloudflare account id)`,
    );
  }
  return base.replaceAll("{account}", accountId);
}

/**
 * Replaces each `{name}` of `params` in a base URL. Every value must be a plain URL token (letters,
 * digits, `-`, `_`, `~`, `.`, up to 64 characters, not starting with `.`); anything else is refused
 * with a 400 (BadRequest), whatever the provider module let through.
 *
 * @example fillPlaceholders("https://{resource}.openai.azure.com", { resource: "my-res" }) // "https://my-res.openai.azure.com"
 */
export function fillPlaceholders(base: string, params: Readonly<Record<string, string>>): string {
  let filled = base;
  for (const [name, value] of Object.entries(params)) {
    if (!PLACEHOLDER_VALUE.test(value)) {
      throw new GatewayError(400, ErrorCode.BadRequest, `Invalid {${name}} ${echo(value)} in the path: use up to 64 letters, digits, "-", "_", "~" and "."`);
    }
    filled = filled.replaceAll(`{${name}}`, value);
  }
  return filled;
}

/**
 * Joins a provider base URL and a provider-relative endpoint with exactly one `/`.
 *
 * When the base ends in a version segment and the endpoint starts with the same one, the endpoint's
 * copy is dropped, so SDKs that keep their own `/v1` do not produce `/v1/v1/…` (CONTRACT.md). An empty
 * endpoint yields the base itself. `search` is appended as given (a missing `?` is added).
 *
 * @example joinUrl("https://api.openai.com/v1", "v1/chat/completions", "") // "https://api.openai.com/v1/chat/completions"
 */
export function joinUrl(base: string, endpoint: string, search = ""): string {
  const root = base.replace(/\/+$/, "");
  let path = endpoint.replace(/^\/+/, "");
  const version = lastSegment(root);
  if (VERSION_SEGMENT.test(version) && (path === version || path.startsWith(`${version}/`))) {
    path = path.slice(version.length).replace(/^\/+/, "");
  }
  return (path ? `${root}/${path}` : root) + querySuffix(search);
}

function querySuffix(search: string): string {
  if (search === "" || search === "?") return "";
  return search.startsWith("?") ? search : `?${search}`;
}
