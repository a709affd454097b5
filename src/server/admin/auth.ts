import { timingSafeEqual } from "node:crypto";
import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";

const digest = (value: string) => new Bun.CryptoHasher("sha256").update(value).digest();

/**
 * Builds the admin API's gate: `Authorization: Bearer <server.adminToken>`, compared in constant time
 * (both sides hashed first, so neither the length nor a prefix leaks). Without a configured token the
 * admin API is off and every call answers 403.
 *
 * @returns a function that throws the GatewayError to answer, or returns when the caller may proceed
 */
export function adminAuthorizer(adminToken: string | undefined): (request: Request) => void {
  const expected = adminToken === undefined ? null : digest(adminToken);
  return function authorizeAdmin(request) {
    if (!expected) {
      throw new GatewayError(
        403,
        ErrorCode.AdminDisabled,
        "The admin API is disabled: set server.adminToken in gateway.config.ts or the SWITCHBOARD_ADMIN_TOKEN environment variable",
      );
    }
    const header = request.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match || !timingSafeEqual(digest(match[1]), expected)) {
      throw new GatewayError(401, ErrorCode.AdminUnauthorized, "Missing or invalid admin token (Authorization: Bearer <server.adminToken>)");
    }
  };
}
