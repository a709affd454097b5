/**
 * `Sec-WebSocket-Protocol` entries as the gateway reads them. Browsers cannot set headers on a
 * WebSocket, so credentials travel as `<name>.<value>` entries: `cf-aig-authorization.<token>` is
 * the gateway's own; realtime providers take theirs the same way (`xi-api-key.<key>`, …).
 */

export const GATEWAY_TOKEN_PROTOCOL = "cf-aig-authorization.";

/** The offered subprotocols, in order, trimmed. */
export function offeredProtocols(request: Request): string[] {
  const header = request.headers.get("sec-websocket-protocol");
  if (!header) return [];
  return header
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** The gateway token offered as a subprotocol, or null. */
export function tokenFromProtocols(offered: readonly string[]): string | null {
  const entry = offered.find((protocol) => protocol.startsWith(GATEWAY_TOKEN_PROTOCOL));
  return entry ? entry.slice(GATEWAY_TOKEN_PROTOCOL.length) || null : null;
}

/**
 * The subprotocol to answer with (CONTRACT.md): browsers and Bun's client fail the handshake unless
 * the server selects one of the offered protocols. A protocol without a credential is preferred; when
 * the credential is the only one offered, it is selected. Null when none was offered.
 */
export function selectedProtocol(offered: readonly string[]): string | null {
  if (offered.length === 0) return null;
  return offered.find((protocol) => !protocol.includes(".")) ?? offered[0];
}
