import type { RequestContext } from "./context.ts";
import { ErrorCode, GatewayError } from "./errors.ts";

/**
 * Typed readers for `cf-aig-*` options. Each reads the step's value first, then the request's
 * (`ctx.option`), and refuses a value it cannot use with 400/2104 naming the header.
 */
export function booleanOption(ctx: RequestContext, name: string): boolean | undefined {
  const raw = ctx.option(name);
  if (raw === null || raw === "") return undefined;
  const value = raw.trim().toLowerCase();
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw invalid(name, raw, "true or false");
}

export function integerOption(ctx: RequestContext, name: string, range: { min?: number; max?: number } = {}): number | undefined {
  const raw = ctx.option(name);
  if (raw === null || raw.trim() === "") return undefined;
  const value = Number(raw.trim());
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, raw, `a whole number from ${min} to ${max}`);
  }
  return value;
}

export function invalid(name: string, raw: string, expected: string): GatewayError {
  const shown = raw.length > 60 ? `${raw.slice(0, 60)}…` : raw;
  return new GatewayError(400, ErrorCode.InvalidHeader, `Header ${name} must be ${expected}; got "${shown}"`);
}
