import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import { ExpiryError, parseDuration, parseExpiryDate, tokenStatus, type GatewayToken, type TokenStore } from "../../store/tokens.ts";
import { ok, type V4Success } from "./v4.ts";
import { badRequest, parseJsonObject } from "./json-body.ts";

/** A gateway token as the admin API shows it: never the secret, except once in the answer to `POST`. */
export interface TokenObject {
  id: string;
  gateway_id: string;
  name: string | null;
  created_at: string;
  /** null: never expires. */
  expires_at: string | null;
  revoked_at: string | null;
  status: "active" | "expired" | "revoked";
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function describe(token: GatewayToken, now = Date.now()): TokenObject {
  return {
    id: token.id,
    gateway_id: token.gatewayId,
    name: token.name,
    created_at: iso(token.createdAt)!,
    expires_at: iso(token.expiresAt),
    revoked_at: iso(token.revokedAt),
    status: tokenStatus(token, now),
  };
}

const bad = badRequest;
const FIELDS = ["name", "expires_at", "expires_in"];
const MAX_NAME = 100;

/** Validates the body of `POST tokens`: `{name?, expires_at? (ISO 8601) | expires_in? ("30d")}`; an empty body is fine. */
export function parseTokenRequest(text: string, now = Date.now()): { name: string | null; expiresAt: number | null } {
  const fields = parseJsonObject(text, FIELDS);
  const { name = null, expires_at: at = null, expires_in: within = null } = fields;
  if (name !== null && (typeof name !== "string" || name.trim() === "" || name.length > MAX_NAME)) {
    throw bad(`name must be a non-empty string of at most ${MAX_NAME} characters`);
  }
  if (at !== null && within !== null) throw bad("Give expires_at or expires_in, not both");
  if (at !== null && typeof at !== "string") throw bad('expires_at must be an ISO 8601 date-time string, e.g. "2027-01-01T00:00:00Z"');
  if (within !== null && typeof within !== "string") throw bad('expires_in must be a duration string such as "90m", "12h", "30d" or "4w"');
  try {
    const expiresAt = at !== null ? parseExpiryDate(at, now) : within !== null ? parseDuration(within, now) : null;
    return { name: name === null ? null : name.trim(), expiresAt };
  } catch (error) {
    if (error instanceof ExpiryError) throw bad(error.message.replace(/^expiry/, at !== null ? "expires_at" : "expires_in"));
    throw error;
  }
}

/**
 * The tokens part of the admin API: list, create (the answer carries the secret, once) and revoke.
 * Every handler takes an already-resolved gateway id; a token of another gateway is "not found".
 */
export function tokenRoutes(store: TokenStore) {
  return {
    async list(gatewayId: string): Promise<V4Success<TokenObject[]>> {
      const now = Date.now();
      return ok((await store.list(gatewayId)).map((token) => describe(token, now)));
    },
    /** Answers `no-store`: the body holds a secret that is shown this one time. */
    async create(gatewayId: string, body: string): Promise<Response> {
      const { name, expiresAt } = parseTokenRequest(body);
      const { token, info } = await store.create({ gatewayId, name, expiresAt });
      return Response.json(ok({ ...describe(info), token }), { headers: { "cache-control": "no-store" } });
    },
    async revoke(gatewayId: string, id: string): Promise<V4Success<{ id: string }>> {
      if (!(await store.revoke(id, gatewayId))) {
        throw new GatewayError(404, ErrorCode.TokenNotFound, `Token "${id}" does not exist in gateway "${gatewayId}"`);
      }
      return ok({ id });
    },
  };
}
