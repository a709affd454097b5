import { RequestContext } from "../../pipeline/context.ts";
import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import { integerOption } from "../../pipeline/options.ts";
import type { ProviderDef, RealtimeDef } from "../../providers/types.ts";
import { echo } from "../../providers/url-guard.ts";
import { injectHeldKey } from "../../upstream/credentials.ts";
import { isGatewayOption, staysAtGateway } from "../../upstream/headers.ts";
import type { Runtime } from "../runtime.ts";
import type { Target } from "../target.ts";
import { selectedProtocol } from "./protocols.ts";
import { RealtimeRelay } from "./realtime-relay.ts";
import type { Connection, SessionFactory } from "./upgrade.ts";

const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[a-z0-9!#$%&'*+^_`|~-]+$/;
/** A `model` query value that may become a path: no query, fragment, escape or space can hide in it. */
const MODEL_PATH = /^@?[A-Za-z0-9][A-Za-z0-9._:@/-]*$/;

/** Where and how one relay connects, settled before the client's handshake is accepted. */
export interface RelayPlan {
  /** The provider's WebSocket URL, confined under its base (`ws://` or `wss://`). */
  url: string;
  /** Subprotocols offered upstream: the client's entries without a value. */
  protocols: string[];
  /** The session's request: `step.headers` are the upstream handshake's headers, `headers` the client's. */
  ctx: RequestContext;
  realtime: RealtimeDef;
  /** How long the provider has to open its WebSocket, in ms. */
  openTimeout: number;
  /** What the client's handshake answer carried, for the record. */
  responseHeaders: Headers;
  /** The `model` query parameter, for the record when the path names none. */
  model: string | null;
}

/**
 * Realtime relay (reference §4b): a WebSocket upgrade of `/v1/{account}/{gateway}/{provider}[/{path}]?{query}`
 * opens the provider's own WebSocket and relays frames both ways verbatim. Everything that can be
 * refused is refused here, before the handshake, as an HTTP answer in the AiGatewayError envelope: an
 * unknown provider, one without a realtime API, a path that leaves the provider's base, a subprotocol
 * that cannot become a header.
 */
export function realtimeSession(runtime: Runtime): SessionFactory {
  return function realtimeRelay(connection) {
    return new RealtimeRelay(runtime, planRelay(runtime, connection));
  };
}

function planRelay(runtime: Runtime, connection: Connection): RelayPlan {
  const { providers, config } = runtime.handle;
  if (runtime.sockets.closing) throw new GatewayError(503, ErrorCode.ShuttingDown, "The gateway is stopping; open the realtime session again");
  const slug = connection.target.provider!;
  const provider = providers.get(slug);
  if (!provider) throw new GatewayError(400, ErrorCode.UnknownProvider, `Unknown provider "${slug}"; known providers: ${providers.slugs().join(", ")}`);
  const realtime = provider.realtime;
  if (!realtime) {
    const relaying = providers.slugs().filter((known) => providers.get(known)?.realtime);
    throw new GatewayError(
      400,
      ErrorCode.BadRequest,
      `${slug} has no realtime WebSocket API the gateway relays; realtime relays: ${relaying.join(", ")}. The Universal API over WebSocket is at /v1/{account}/{gateway} (no provider)`,
    );
  }
  const { endpoint, search, model } = realtimeEndpoint(realtime, connection.target);
  const url = providers.url(provider, connection.accountId, endpoint, search).replace(/^http(s?):/, "ws$1:");
  const { headers, protocols } = upstreamHandshake(provider, realtime, connection);
  const ctx = new RequestContext({
    gateway: connection.gateway,
    accountId: connection.accountId,
    requestType: "websocket",
    headers: clientHeaders(connection),
    steps: [{ provider, endpoint, search, method: "GET", headers, options: null, body: null }],
    clientAddress: connection.clientAddress,
  });
  injectHeldKey(config, ctx);
  const openTimeout = integerOption(ctx, "cf-aig-request-timeout", { min: 1, max: MAX_TIMEOUT_MS }) ?? ctx.gateway.requestTimeout;
  const responseHeaders = new Headers({ upgrade: "websocket", connection: "Upgrade" });
  const selected = selectedProtocol(connection.protocols);
  if (selected) responseHeaders.set("sec-websocket-protocol", maskProtocol(selected));
  return { url, protocols, ctx, realtime, openTimeout, responseHeaders, model };
}

/**
 * The provider-relative endpoint and query: the provider's realtime path with the client's own path
 * after it (not doubled when the client names it), and, for providers that want it, `?model=` moved
 * into the path when the client gave none. Other query parameters stay byte for byte.
 */
function realtimeEndpoint(realtime: RealtimeDef, target: Target): { endpoint: string; search: string; model: string | null } {
  let path = target.endpoint.replace(/^\/+/, "");
  let search = target.search;
  const model = new URLSearchParams(search).get("model");
  if (realtime.modelInPath && path === "" && model) {
    if (!MODEL_PATH.test(model)) throw new GatewayError(400, ErrorCode.BadRequest, `Invalid model ${echo(model)}: a model name is letters, digits and . _ : @ / -`);
    path = model;
    search = withoutParam(search, "model");
  }
  const base = realtime.endpoint;
  const endpoint = base === "" || path === base || path.startsWith(`${base}/`) ? path : path === "" ? base : `${base}/${path}`;
  return { endpoint, search, model };
}

/** `search` without the parameter `name`, every other pair as sent. */
function withoutParam(search: string, name: string): string {
  const pairs = search.replace(/^\?/, "").split("&");
  const kept = pairs.filter((pair) => pair !== "" && new URLSearchParams(pair).keys().next().value !== name);
  return kept.length > 0 ? `?${kept.join("&")}` : "";
}

/**
 * The upstream handshake: the client's credential headers (the provider's `authHeaders`) and the
 * headers its realtime API names, then each `<name>.<value>` subprotocol as the header `<name>: <value>`
 * (or the provider's own translation), never over a header the client sent. The gateway's own
 * `cf-aig-*` entries stay here; entries without a value go upstream as subprotocols.
 */
function upstreamHandshake(provider: ProviderDef, realtime: RealtimeDef, connection: Connection): { headers: Headers; protocols: string[] } {
  const headers = new Headers();
  for (const name of [...provider.authHeaders, ...(realtime.headers ?? [])]) {
    const value = connection.request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  const protocols: string[] = [];
  for (const entry of connection.protocols) {
    const dot = entry.indexOf(".");
    const name = (dot === -1 ? entry : entry.slice(0, dot)).toLowerCase();
    if (isGatewayOption(name)) continue;
    if (dot === -1) {
      protocols.push(entry);
      continue;
    }
    const value = entry.slice(dot + 1);
    const [header, headerValue] = realtime.protocolHeaders?.[name]?.(value) ?? [name, value];
    if (!HEADER_NAME.test(header) || staysAtGateway(header) || header.startsWith("sec-websocket-") || value === "") {
      throw new GatewayError(400, ErrorCode.BadRequest, `The subprotocol ${echo(`${name}.…`)} cannot be sent to ${provider.slug} as a header`);
    }
    if (!headers.has(header)) headers.set(header, headerValue);
  }
  return { headers, protocols };
}

/**
 * The upgrade's headers as the session's record keeps them (credentials are redacted when the record
 * is built): subprotocol values masked, since they are credentials no header name gives away, and the
 * subprotocol token as `cf-aig-authorization`, which options and plugins read.
 */
function clientHeaders(connection: Connection): Headers {
  const headers = new Headers(connection.request.headers);
  if (connection.protocols.length > 0) headers.set("sec-websocket-protocol", connection.protocols.map(maskProtocol).join(", "));
  for (const [name, value] of connection.headers) if (!headers.has(name)) headers.set(name, value);
  return headers;
}

/** `name.[redacted]` for a subprotocol that carries a value. */
function maskProtocol(entry: string): string {
  const dot = entry.indexOf(".");
  return dot === -1 ? entry : `${entry.slice(0, dot)}.[redacted]`;
}
