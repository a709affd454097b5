import { ulid } from "ulid";

/**
 * Gateway tokens made at run time (`switchboard tokens create`, the admin API). Each belongs to one
 * gateway; only the SHA-256 of its secret is stored, so the secret is shown once, when it is made.
 * Config `tokens` are not here: the auth plugin compares those itself.
 */

/** A stored token, as listed and as `verify` returns it. Never carries the secret. Times are epoch ms. */
export interface GatewayToken {
  /** `tok_` + ULID; what logs (`token_id`), `tokens list` and `tokens revoke` use. */
  id: string;
  gatewayId: string;
  name: string | null;
  createdAt: number;
  /** null: never expires. */
  expiresAt: number | null;
  /** null: not revoked. */
  revokedAt: number | null;
}

export interface NewToken {
  gatewayId: string;
  name?: string | null;
  /** Epoch ms; omitted or null: never expires. */
  expiresAt?: number | null;
}

/** What `create` answers: the secret (its only appearance) and the stored description. */
export interface CreatedToken {
  token: string;
  info: GatewayToken;
}

/**
 * Where gateway tokens live. Methods return Promises so a networked store (PostgreSQL) fits the same
 * interface; the SQLite one answers synchronously underneath.
 *
 * @example
 * const { token, info } = await stores.tokens.create({ gatewayId: "prod", name: "ci", expiresAt: Date.now() + 30 * DAY_MS });
 * await stores.tokens.verify("prod", token); // → info
 * await stores.tokens.revoke(info.id);       // → true; verify now answers null
 */
export interface TokenStore {
  create(input: NewToken): Promise<CreatedToken>;
  /** Every token (revoked and expired ones included), oldest first; of one gateway when given. */
  list(gatewayId?: string): Promise<GatewayToken[]>;
  /**
   * Revokes a token at once. Idempotent: revoking a revoked token keeps its first revocation time.
   * @param gatewayId when given, only a token of that gateway is touched
   * @returns false when no such token exists (in that gateway)
   */
  revoke(id: string, gatewayId?: string): Promise<boolean>;
  /** The token `secret` names, when it belongs to `gatewayId` and is neither revoked nor expired; else null. */
  verify(gatewayId: string, secret: string, now?: number): Promise<GatewayToken | null>;
}

const TOKEN_PREFIX = "sb_";

/** A new secret: `sb_` + base64url of 32 random bytes (256 bits; 46 characters). */
export function generateSecret(): string {
  return TOKEN_PREFIX + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

/** What a store keeps and looks up instead of the secret: its SHA-256, hex. */
export function hashSecret(secret: string): string {
  return new Bun.CryptoHasher("sha256").update(secret).digest("hex");
}

/** A new token id: `tok_` + ULID (sortable by creation time). */
export function newTokenId(): string {
  return `tok_${ulid()}`;
}

/** A new token of `input`: its secret (shown once), its description, and the hash a store keeps. */
export function newToken(input: NewToken, now = Date.now()): CreatedToken & { hash: string } {
  const token = generateSecret();
  const info: GatewayToken = {
    id: newTokenId(),
    gatewayId: input.gatewayId,
    name: input.name ?? null,
    createdAt: now,
    expiresAt: input.expiresAt ?? null,
    revokedAt: null,
  };
  return { token, info, hash: hashSecret(token) };
}

/** "active", "expired" or "revoked" at `now`. */
export function tokenStatus(token: GatewayToken, now = Date.now()): "active" | "expired" | "revoked" {
  if (token.revokedAt !== null) return "revoked";
  if (token.expiresAt !== null && token.expiresAt <= now) return "expired";
  return "active";
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(\d+)(m|h|d|w)$/;
const TIME = "([01]\\d|2[0-3]):[0-5]\\d";
const ISO_DATE = new RegExp(`^(\\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])(T${TIME}(:[0-5]\\d(\\.\\d{1,3})?)?(Z|[+-]${TIME})?)?$`);
/** JavaScript's largest Date. */
const MAX_TIME = 8.64e15;

/** A token expiry that cannot be used; the message says what is accepted. */
export class ExpiryError extends Error {
  override readonly name = "ExpiryError";
}

/**
 * Reads a relative expiry: a whole number and a unit, `m` minutes, `h` hours, `d` days, `w` weeks.
 * @returns epoch ms
 * @example parseDuration("30d") // now + 30 days
 */
export function parseDuration(text: string, now = Date.now()): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new ExpiryError(`expiry "${text}" must be a duration such as 90m, 12h, 30d or 4w`);
  const amount = Number(match[1]);
  const at = now + amount * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (amount < 1) throw new ExpiryError(`expiry "${text}" must be at least 1${match[2]}`);
  if (!(at < MAX_TIME)) throw new ExpiryError(`expiry "${text}" is too far in the future`);
  return at;
}

/**
 * Reads an absolute expiry: an ISO 8601 date (midnight UTC) or date-time (local time unless it has `Z` or
 * an offset), which must be in the future.
 * @returns epoch ms
 * @example parseExpiryDate("2027-01-01T00:00:00Z")
 */
export function parseExpiryDate(text: string, now = Date.now()): number {
  const match = ISO_DATE.exec(text.trim());
  if (!match) throw new ExpiryError(`expiry "${text}" must be an ISO 8601 date or date-time, e.g. 2027-01-01 or 2027-01-01T12:00:00Z`);
  // Date.parse rolls 2026-02-30 over to March; a day the month does not have is a typo, not a date.
  const month = Number(match[2]) - 1;
  if (new Date(Date.UTC(Number(match[1]), month, Number(match[3]))).getUTCMonth() !== month) {
    throw new ExpiryError(`expiry "${text}" is not a day of the calendar`);
  }
  const at = Date.parse(text.trim());
  if (at <= now) throw new ExpiryError(`expiry "${text}" is in the past; a token must expire in the future`);
  return at;
}

/**
 * Reads `--expires`: a duration (`90m`, `12h`, `30d`, `4w`) or an ISO 8601 date / date-time.
 * @returns epoch ms
 */
export function parseExpiry(text: string, now = Date.now()): number {
  if (DURATION.test(text.trim())) return parseDuration(text, now);
  if (ISO_DATE.test(text.trim())) return parseExpiryDate(text, now);
  throw new ExpiryError(`expiry "${text}" must be a duration (90m, 12h, 30d, 4w) or an ISO 8601 date such as 2027-01-01`);
}
