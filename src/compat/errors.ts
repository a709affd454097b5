import { ErrorCode, GatewayError } from "../pipeline/errors.ts";

/** How much of a client's value an error message repeats. */
const ECHO_MAX = 60;

/** `value` quoted for a message, cut short so hostile input is not echoed at length. */
export function quote(value: string): string {
  return JSON.stringify(value.length > ECHO_MAX ? `${value.slice(0, ECHO_MAX)}…` : value);
}

/**
 * 400/2019: the compat request cannot be read (Cloudflare's "Chat completion bad format").
 *
 * @example badFormat('"messages" must be a non-empty array')
 */
export function badFormat(problem: string): GatewayError {
  return new GatewayError(400, ErrorCode.CompatBadFormat, `Chat completion bad format: ${problem}`);
}

/**
 * 400/2142: the target provider cannot express something the request asks for; says what and why.
 *
 * @example cannotExpress("anthropic", "n = 3", "the Messages API returns one message per request")
 */
export function cannotExpress(provider: string, what: string, why: string): GatewayError {
  return new GatewayError(400, ErrorCode.NotTranslatable, `${provider} cannot take ${what}: ${why}`);
}
