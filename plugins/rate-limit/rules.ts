import { credentialDigest, isCredentialHeader } from "switchboard";
import type { RateLimitRule, RequestContext, ResolvedGateway } from "switchboard";

/** A `rateLimit` rule of one gateway, ready to count with. */
export interface CompiledRule {
  /** Position in the gateway's `rateLimit` list, from 0. */
  index: number;
  limit: number;
  /** Seconds, as configured. */
  interval: number;
  intervalMs: number;
  sliding: boolean;
  unit: "requests" | "tokens";
  /** The configured key, e.g. `header:x-user`. @default "gateway" */
  key: string;
  /** Human words for the key, e.g. `per value of header "x-user"`. */
  scope: string;
  /** The counter key of the request's bucket under this rule. */
  keyFor(ctx: RequestContext): string;
}

/** The bucket of requests that carry no value for a `header:` or `metadata:` key: they share one budget. */
export const NO_VALUE = "(none)";
/** Longer values are hashed, so a client cannot make counter keys arbitrarily large. */
const MAX_VALUE_LENGTH = 200;

/** The gateway's rules in config order; `[]` when it has none. Throws on a header name `Headers` rejects. */
export function compileRules(gateway: ResolvedGateway): CompiledRule[] {
  const raw = gateway.raw.rateLimit;
  const list: RateLimitRule[] = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return list.map((rule, index) => {
    const unit = rule.unit ?? "requests";
    const spec = rule.key ?? "gateway";
    const { scope, bucket } = keyKind(spec, `gateways.${gateway.id}.rateLimit[${index}].key`);
    const prefix = `rl:${gateway.id}:${index}:${unit}:${rule.interval}:${spec}:`;
    return {
      index,
      limit: rule.limit,
      interval: rule.interval,
      intervalMs: rule.interval * 1000,
      sliding: rule.technique === "sliding",
      unit,
      key: spec,
      scope,
      keyFor: (ctx) => prefix + bucket(ctx),
    };
  });
}

function keyKind(spec: string, path: string): { scope: string; bucket: (ctx: RequestContext) => string } {
  const address = (ctx: RequestContext) => `ip=${ctx.clientAddress ?? "unknown"}`;
  if (spec === "gateway") return { scope: "for the whole gateway", bucket: () => "" };
  if (spec === "ip") return { scope: "per client address", bucket: address };
  if (spec === "token") {
    return {
      scope: "per gateway token (per client address without one)",
      bucket: (ctx) => (ctx.tokenId ? `token=${ctx.tokenId}` : address(ctx)),
    };
  }
  if (spec.startsWith("header:")) {
    const name = spec.slice("header:".length).trim().toLowerCase();
    try {
      new Headers().get(name);
    } catch {
      throw new Error(`${path}: "${name}" is not a valid header name`);
    }
    // A credential (a limit per API key) is counted by its SHA-256, never stored: bucket names reach Redis and the admin API.
    if (isCredentialHeader(name)) return { scope: `per value of header "${name}"`, bucket: (ctx) => secretBucket(ctx.headers.get(name)) };
    return { scope: `per value of header "${name}"`, bucket: (ctx) => valueBucket(ctx.headers.get(name)) };
  }
  const key = spec.slice("metadata:".length);
  return {
    scope: `per value of metadata "${key}"`,
    bucket: (ctx) => valueBucket(Object.hasOwn(ctx.metadata, key) ? ctx.metadata[key] : null),
  };
}

function secretBucket(value: string | null): string {
  return value === null ? NO_VALUE : `#${credentialDigest(value)}`;
}

function valueBucket(value: string | number | boolean | null): string {
  if (value === null) return NO_VALUE;
  const text = String(value);
  return text.length > MAX_VALUE_LENGTH ? `#${Bun.hash(text).toString(36)}` : `=${text}`;
}
