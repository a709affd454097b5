import type { Server } from "bun";
import type { ResolvedGateway } from "../../config/defaults.ts";
import { ErrorCode, GatewayError, toGatewayError } from "../../pipeline/errors.ts";
import { isGatewayOption } from "../../upstream/headers.ts";
import { admission, authPlugin } from "../admission.ts";
import { webSocketOriginAllowed, type CorsPolicy } from "../cors.ts";
import { refused } from "../proxy.ts";
import type { Runtime } from "../runtime.ts";
import { parseTarget, type Target } from "../target.ts";
import { offeredProtocols, selectedProtocol, tokenFromProtocols } from "./protocols.ts";
import type { SocketData, WsSession } from "./session.ts";

/** True for a request that asks to become a WebSocket. */
export function wantsWebSocket(request: Request): boolean {
  return request.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** What a session needs to know about the connection it serves. */
export interface Connection {
  /** Random, given at accept; on every record of the connection's requests. */
  id: string;
  gateway: ResolvedGateway;
  accountId: string;
  target: Target;
  /** The upgrade's `cf-aig-*` headers (the subprotocol token as `cf-aig-authorization`): every request's defaults. */
  headers: Headers;
  /** The upgrade request itself (its other headers, e.g. a realtime provider's credentials). */
  request: Request;
  clientAddress: string | null;
  /** The subprotocols the client offered. */
  protocols: string[];
}

/** Makes the session for an admitted connection: Universal (no provider in the path) or a realtime relay. */
export type SessionFactory = (connection: Connection) => WsSession | Response | Promise<WsSession | Response>;

/**
 * Upgrades `GET /v1/{account}/{gateway}[/{provider}…]` to a WebSocket. Refusals come before the
 * handshake, as ordinary HTTP answers in the AiGatewayError envelope: an unknown gateway 404, and —
 * because the gateway's `auth` plugin is asked first, with the upgrade's headers — a missing or
 * wrong token 401. Answers with the selected subprotocol (CONTRACT.md), never anything else of the
 * token. A browser page on another origin (its `Origin`) may not open one to a gateway without
 * authentication unless `server.cors` allows that origin: 403 / 2117.
 */
export function webSocketUpgrade(runtime: Runtime, sessions: { universal: SessionFactory; realtime: SessionFactory }, cors: CorsPolicy | null = null) {
  const { config } = runtime.handle;
  const auth = authPlugin(runtime);
  return async function upgrade(request: Request, server: Server<SocketData>, clientAddress: string | null): Promise<Response | undefined> {
    try {
      const target = parseTarget(request.url);
      if (config.accountId && target.account !== config.accountId) {
        throw new GatewayError(404, ErrorCode.UnknownAccount, `Unknown account "${target.account}"; this gateway serves account "${config.accountId}"`);
      }
      const gateway = config.gateways.get(target.gateway);
      if (!gateway) throw new GatewayError(404, ErrorCode.UnknownGateway, `Unknown gateway "${target.gateway}"; configured gateways: ${[...config.gateways.keys()].join(", ")}`);
      if (!webSocketOriginAllowed(request, gateway.raw.authentication === true, cors)) {
        throw new GatewayError(
          403,
          ErrorCode.CrossOriginRefused,
          `A page on another origin may not open a WebSocket to gateway "${gateway.id}": it has no authentication. Turn authentication on, or allow the origin in server.cors`,
        );
      }
      const protocols = offeredProtocols(request);
      const headers = sessionHeaders(request.headers, protocols);
      const refusal = auth ? await admission(auth, { gateway, accountId: target.account, headers, clientAddress, requestType: "websocket" }) : null;
      if (refusal) return refusal;
      const connection: Connection = { id: crypto.randomUUID(), gateway, accountId: target.account, target, headers, request, clientAddress, protocols };
      const made = await (target.provider === null ? sessions.universal : sessions.realtime)(connection);
      if (made instanceof Response) return made;
      const protocol = selectedProtocol(protocols);
      const upgraded = server.upgrade(request, { data: { session: made }, headers: protocol ? { "Sec-WebSocket-Protocol": protocol } : undefined });
      if (!upgraded) throw new GatewayError(400, ErrorCode.BadRequest, "The WebSocket handshake is malformed (Sec-WebSocket-Key and Version 13 are required)");
      return undefined;
    } catch (error) {
      return refused(toGatewayError(error), request.headers);
    }
  };
}

/** The upgrade's gateway options, and the subprotocol token as the `cf-aig-authorization` header the auth plugin reads. */
function sessionHeaders(request: Headers, protocols: readonly string[]): Headers {
  const headers = new Headers();
  for (const [name, value] of request) if (isGatewayOption(name)) headers.set(name, value);
  const user = request.get("user-agent");
  if (user) headers.set("user-agent", user);
  const token = tokenFromProtocols(protocols);
  if (token && !headers.has("cf-aig-authorization")) headers.set("cf-aig-authorization", `Bearer ${token}`);
  return headers;
}
