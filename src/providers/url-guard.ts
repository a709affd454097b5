/**
 * The trust boundary of upstream URLs: a client's path is data, never part of the origin a held
 * provider key is sent to (STYLE.md, "Trust boundaries"). Two lines of defence, both in the registry's
 * `url()`: `guardEndpoint` refuses paths that could only mean mischief before a URL is built, and
 * `confine` refuses a built URL that leaves the origin and path prefix its provider may reach.
 */
import { ErrorCode, GatewayError } from "../pipeline/errors.ts";

/** How much of a client's input an error message repeats. */
const ECHO_MAX = 60;

/**
 * `value` quoted for an error message, cut to ~60 characters so hostile input is not echoed at length.
 *
 * @example echo("my-resource") // '"my-resource"'
 */
export function echo(value: string): string {
  return JSON.stringify(value.length > ECHO_MAX ? `${value.slice(0, ECHO_MAX)}…` : value);
}

/** A 400 naming the provider whose path was refused. */
export function badPath(slug: string, problem: string): GatewayError {
  return new GatewayError(400, ErrorCode.BadRequest, `Refused path for ${slug}: ${problem}`);
}

/** A dot segment, raw or percent-encoded (`.`, `..`, `%2e`, `.%2E`, …), after lower-casing. */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/;
/** Whitespace and control characters: the URL parser drops some of them, so `.\t.` would become `..`. */
const CONTROL = /[\u0000-\u0020\u007f]/;

/**
 * Refuses (400, BadRequest) a provider-relative endpoint that could reach outside its base: a `#`
 * (in the endpoint or the query), a backslash (raw or `%5C`), an encoded `/` (`%2F`, which many
 * servers decode before routing), a `.` or `..` segment (raw or `%2e`), or whitespace and control
 * characters. Everything else — `@cf/…`, `models/x:generateContent`, `?api-version=…` — passes.
 *
 * @example guardEndpoint("openai", "../admin", "") // throws GatewayError 400
 */
export function guardEndpoint(slug: string, endpoint: string, search: string): void {
  if (endpoint.includes("#") || search.includes("#")) throw badPath(slug, 'the URL may not contain "#" (a request-target has no fragment)');
  if (CONTROL.test(endpoint)) throw badPath(slug, "the path may not contain spaces or control characters");
  const lower = endpoint.toLowerCase();
  if (lower.includes("\\") || lower.includes("%5c")) throw badPath(slug, "the path may not contain a backslash (\\ or %5C)");
  if (lower.includes("%2f")) throw badPath(slug, "a path segment may not contain an encoded slash (%2F)");
  if (lower.split("/").some((segment) => DOT_SEGMENT.test(segment))) {
    throw badPath(slug, 'the path may not contain "." or ".." segments, raw or percent-encoded');
  }
}

/**
 * Parses `url` and returns it (normalised, as `fetch` will send it) only when it stays within `reach`:
 * same protocol, host and port, no fragment, and a path equal to or below `reach`'s path. Otherwise
 * throws a 400 (BadRequest) that names the provider but no host, so the answer reveals nothing about
 * where the gateway would have connected.
 *
 * @example confine("openai", "https://api.openai.com/v1/chat/completions", "https://api.openai.com/v1") // "https://api.openai.com/v1/chat/completions"
 */
export function confine(slug: string, url: string, reach: string): string {
  const outside = () => badPath(slug, "the upstream URL would leave the base URL configured for this provider");
  let target: URL;
  let allowed: URL;
  try {
    target = new URL(url);
    allowed = new URL(reach);
  } catch {
    throw badPath(slug, "the path does not form a valid upstream URL");
  }
  if (target.hash !== "" || url.includes("#")) throw badPath(slug, 'the URL may not contain "#" (a request-target has no fragment)');
  if (target.origin === "null" || target.origin !== allowed.origin) throw outside();
  if (target.username !== allowed.username || target.password !== allowed.password) throw outside();
  const prefix = allowed.pathname.replace(/\/+$/, "");
  if (prefix !== "" && target.pathname !== prefix && !target.pathname.startsWith(`${prefix}/`)) throw outside();
  return target.href;
}
