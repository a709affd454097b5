/** A path segment that names an API version: `v1`, `v2`, `v4`, `v1beta`, `v1alpha1`, … */
const VERSION_SEGMENT = /^v\d+(?:[a-z]+\d*)?$/;

/** The last `/`-separated piece of a URL without a trailing slash (the host when there is no path). */
export function lastSegment(url: string): string {
  return url.slice(url.lastIndexOf("/") + 1);
}

/** Replaces `{account}` in a base URL with the account from the request path. */
export function fillAccount(base: string, accountId: string): string {
  return base.replaceAll("{account}", encodeURIComponent(accountId));
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
