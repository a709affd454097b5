import { timingSafeEqual } from "node:crypto";
import { definePlugin, ErrorCode, type RequestContext, type ResolvedGateway, type TokenStore } from "switchboard";
import { storageUnavailable } from "./storage-unavailable.ts";

const HEADER = "cf-aig-authorization";
const BEARER = /^Bearer[ \t]+(\S+)$/i;

/** A token from the config: a stable id for logs, and the SHA-256 of the secret (the secret itself is not kept). */
interface ConfigToken {
  id: string;
  digest: Uint8Array;
}

interface Policy {
  required: boolean;
  tokens: ConfigToken[];
}

const sha256 = (secret: string): Uint8Array => new Bun.CryptoHasher("sha256").update(secret).digest();

/**
 * The gateway's auth policy from its config. A config token's id is `config:<name>`, or
 * `config:<index>` when it has no name: what logs and rate limits see instead of the secret.
 */
function policyOf(gateway: ResolvedGateway): Policy {
  const tokens: ConfigToken[] = [];
  for (const [index, entry] of (gateway.raw.tokens ?? []).entries()) {
    const { name, token } = typeof entry === "string" ? { name: undefined, token: entry } : entry;
    const id = `config:${name ?? index}`;
    if (tokens.some((known) => known.id === id)) {
      throw new Error(`gateway "${gateway.id}" has two tokens with the id "${id}"; give each token of a gateway its own name`);
    }
    tokens.push({ id, digest: sha256(token) });
  }
  return { required: gateway.raw.authentication === true, tokens };
}

/**
 * The id of the config token `secret` is, or null. Both sides are fixed-length digests compared with
 * `timingSafeEqual`, and every token is compared, so the time taken says nothing about the secret.
 */
function matchConfigToken(tokens: ConfigToken[], secret: string): string | null {
  const presented = sha256(secret);
  let found: string | null = null;
  for (const token of tokens) {
    if (timingSafeEqual(presented, token.digest) && found === null) found = token.id;
  }
  return found;
}

/** The secret from `cf-aig-authorization: Bearer <token>`, or the 401 to answer. */
function presentedSecret(ctx: RequestContext): string | Response {
  const header = ctx.headers.get(HEADER)?.trim() ?? "";
  if (header === "") {
    // A common mix-up: the gateway token sent as the provider's Authorization header.
    const hint = /^Bearer\s+sb_/i.test(ctx.headers.get("authorization") ?? "")
      ? " (the Authorization header goes to the provider; the gateway token goes in cf-aig-authorization)"
      : "";
    return ctx.error(401, ErrorCode.Unauthorized, `Missing ${HEADER} header; gateway "${ctx.gatewayId}" requires \`${HEADER}: Bearer <token>\`${hint}`);
  }
  const match = BEARER.exec(header);
  if (!match) return ctx.error(401, ErrorCode.Unauthorized, `Malformed ${HEADER} header; expected \`Bearer <token>\``);
  return match[1];
}

const invalid = (ctx: RequestContext) =>
  // Same answer for unknown, expired, revoked and other-gateway tokens: nothing here says which.
  ctx.error(
    401,
    ErrorCode.Unauthorized,
    `Invalid, expired or revoked gateway token for gateway "${ctx.gatewayId}"; create one with \`switchboard tokens create --gateway ${ctx.gatewayId}\``,
  );

/**
 * Authenticated gateways (Cloudflare's behaviour table): with `authentication: true` a request needs
 * `cf-aig-authorization: Bearer <token>` naming a config token of that gateway or one made with
 * `switchboard tokens create`; anything else is 401/2009. With authentication off the header is
 * ignored, even when wrong. On success `ctx.tokenId` is the token's id (never the secret). The header
 * never goes upstream: the core strips every `cf-aig-*` header.
 *
 * @example
 * gateways: { prod: { authentication: true, tokens: [{ name: "ci", token: process.env.CI_GATEWAY_TOKEN! }] } }
 */
export function auth() {
  let store: TokenStore;
  const policies = new Map<string, Policy>();
  const policyFor = (gateway: ResolvedGateway) => {
    let policy = policies.get(gateway.id);
    if (!policy) policies.set(gateway.id, (policy = policyOf(gateway)));
    return policy;
  };

  return definePlugin({
    name: "auth",
    readsBody: false,
    appliesTo: (gateway) => policyFor(gateway).required,
    setup(gateway) {
      store = gateway.stores.tokens;
      // Built now so a config mistake stops start-up instead of failing requests.
      for (const configured of gateway.config.gateways.values()) policyFor(configured);
    },
    handle(ctx, next) {
      const policy = policyFor(ctx.gateway);
      if (!policy.required) return next();
      const secret = presentedSecret(ctx);
      if (secret instanceof Response) return secret;
      const configId = matchConfigToken(policy.tokens, secret);
      if (configId !== null) {
        ctx.tokenId = configId;
        return next();
      }
      return store.verify(ctx.gatewayId, secret).then(
        (token) => {
          if (!token) return invalid(ctx);
          ctx.tokenId = token.id;
          return next();
        },
        // The token store is away (PostgreSQL down): a token that cannot be checked is not let in.
        () => storageUnavailable(ctx, `Gateway tokens of gateway "${ctx.gatewayId}" cannot be checked right now; config tokens still work`),
      );
    },
  });
}
