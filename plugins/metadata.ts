import { definePlugin, ErrorCode, GatewayError, type Metadata, type RequestContext } from "switchboard";

const HEADER = "cf-aig-metadata";
const MAX_KEY_LENGTH = 64;
/** Entries allowed when the gateway sets no `metadata.maxEntries` (Cloudflare's limit). */
export const DEFAULT_MAX_ENTRIES = 5;

/**
 * Reads `cf-aig-metadata` — a flat JSON object of at most `metadata.maxEntries` (default 5) entries
 * whose values are strings, finite numbers or booleans — into `ctx.metadata`, where later plugins, the
 * log record and `metadata:<key>` rate limits find it. Anything else is refused with 400/2105 naming the
 * rule (Cloudflare silently drops or ignores such headers; a refusal is easier to debug).
 * A Universal step may carry its own header; it is validated up front and wins for that step.
 *
 * @example
 * curl -H 'cf-aig-metadata: {"user":"ada","team":"ml","trial":true}' …
 */
export function metadata() {
  return definePlugin({
    name: "metadata",
    readsBody: false,
    async handle(ctx, next) {
      const maxEntries = ctx.gateway.raw.metadata?.maxEntries ?? DEFAULT_MAX_ENTRIES;
      const hint = `gateways.${ctx.gatewayId}.metadata.maxEntries`;
      const request = parseMetadata(ctx.headers.get(HEADER), { maxEntries, hint }) ?? {};
      const perStep = ctx.steps.map((step, i) => parseMetadata(step.options?.get(HEADER) ?? null, { maxEntries, hint, where: `step ${i}` }));
      const pick = (c: RequestContext) => perStep[c.stepIndex] ?? request;
      ctx.metadata = pick(ctx);
      if (perStep.every((m) => m === null)) return next();
      // Fallback may move to another step inside next(): the record carries the serving step's metadata.
      const response = await next();
      ctx.metadata = pick(ctx);
      return response;
    },
  });
}

/** Where a `cf-aig-metadata` value came from and what it may hold. */
export interface MetadataRules {
  maxEntries: number;
  /** The config path that raises the limit, named in the error. */
  hint: string;
  /** e.g. `step 1`, for a Universal step's own header. */
  where?: string;
}

/**
 * Parses one `cf-aig-metadata` value. Null or blank means no metadata (null); a broken rule throws
 * 400/2105 saying which.
 */
export function parseMetadata(raw: string | null, rules: MetadataRules): Metadata | null {
  if (raw === null || raw.trim() === "") return null;
  const header = rules.where ? `${HEADER} (${rules.where})` : HEADER;
  const refuse = (reason: string) => new GatewayError(400, ErrorCode.InvalidMetadata, `${header} ${reason}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw refuse("is not valid JSON; send a flat JSON object such as {\"user\":\"ada\"}");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw refuse(`must be a JSON object; got ${kindOf(parsed)}`);
  }
  const entries = Object.entries(parsed);
  if (entries.length > rules.maxEntries) {
    throw refuse(`has ${entries.length} entries; at most ${rules.maxEntries} are allowed (raise ${rules.hint} to allow more)`);
  }
  for (const [key, value] of entries) {
    if (key === "") throw refuse("has an empty key; every key needs a name");
    const shown = key.length > MAX_KEY_LENGTH ? `${key.slice(0, 20)}…` : key;
    if (key.length > MAX_KEY_LENGTH) throw refuse(`key "${shown}" is ${key.length} characters long; keys are at most ${MAX_KEY_LENGTH}`);
    if (key.startsWith("cf.")) throw refuse(`key "${key}" is reserved: keys starting with "cf." belong to the gateway`);
    const ok = typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));
    if (!ok) {
      const got = typeof value === "number" ? "a number too large to represent" : kindOf(value);
      throw refuse(`value of "${key}" is ${got}; values must be strings, finite numbers or booleans (no nesting)`);
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays a plain key.
  return Object.fromEntries(entries) as Metadata;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}
