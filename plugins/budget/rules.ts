import { credentialDigest, isCredentialHeader } from "switchboard";
import type { RequestContext, ResolvedBudget, ResolvedGateway } from "switchboard";

/** A `budgets` rule of one gateway, ready to reserve with. */
export interface CompiledBudget extends ResolvedBudget {
  windowMs: number;
  /** Whether the rule counts this request (its provider / model globs match). */
  applies(ctx: RequestContext): boolean;
  /** The spend-store key of the request's bucket, or null when the request carries no value for the rule's key (not counted). */
  keyFor(ctx: RequestContext): string | null;
}

/** Longer values are hashed, so a client cannot make store keys arbitrarily large. */
const MAX_VALUE_LENGTH = 200;

/** The store-key prefix of one rule; the admin API lists a rule's buckets by it. */
export function budgetPrefix(gatewayId: string, index: number): string {
  return `budget:${gatewayId}:${index}:`;
}

/** The gateway's budgets in config order; `[]` when it has none. Throws on a header name `Headers` rejects. */
export function compileBudgets(gateway: ResolvedGateway): CompiledBudget[] {
  return gateway.budgets.map((rule) => {
    const prefix = budgetPrefix(gateway.id, rule.index);
    const bucket = bucketOf(rule.key, `gateways.${gateway.id}.budgets[${rule.index}].key`);
    const provider = rule.provider === null ? null : glob(rule.provider);
    const model = rule.model === null ? null : glob(rule.model);
    return {
      ...rule,
      windowMs: rule.intervalSeconds * 1000,
      applies(ctx) {
        if (provider && !provider.test(ctx.provider)) return false;
        if (!model) return true;
        const name = ctx.model;
        return name !== null && model.test(name);
      },
      keyFor(ctx) {
        const value = bucket(ctx);
        return value === null ? null : prefix + value;
      },
    };
  });
}

/** The bucket label of a request under `spec` (`gateway`, `token=…`, `header:x-team=…`), or null without a value. */
function bucketOf(spec: string, path: string): (ctx: RequestContext) => string | null {
  if (spec === "gateway") return () => "gateway";
  if (spec === "token") return (ctx) => (ctx.tokenId ? `token=${ctx.tokenId}` : null);
  if (spec.startsWith("header:")) {
    const name = spec.slice("header:".length);
    try {
      new Headers().get(name);
    } catch {
      throw new Error(`${path}: "${name}" is not a valid header name`);
    }
    // A credential (a budget per API key) is kept by its SHA-256, never stored: bucket names reach Redis and the admin API.
    if (isCredentialHeader(name)) return (ctx) => secretLabel(spec, ctx.headers.get(name));
    return (ctx) => labelled(spec, ctx.headers.get(name));
  }
  const key = spec.slice("metadata:".length);
  return (ctx) => labelled(spec, Object.hasOwn(ctx.metadata, key) ? ctx.metadata[key] : null);
}

function secretLabel(spec: string, value: string | null): string | null {
  return value === null || value === "" ? null : `${spec}#${credentialDigest(value)}`;
}

function labelled(spec: string, value: string | number | boolean | null): string | null {
  if (value === null || value === "") return null;
  const text = String(value);
  return text.length > MAX_VALUE_LENGTH ? `${spec}#${Bun.hash(text).toString(36)}` : `${spec}=${text}`;
}

/** `*` matches any run of characters (slashes included: `@cf/meta/*`), `?` one; case-insensitive, whole string. */
function glob(pattern: string): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${source}$`, "i");
}
