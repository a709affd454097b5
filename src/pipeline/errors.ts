import { StoreUnavailable } from "../store/errors.ts";

/**
 * Every error the gateway itself produces: one class, one table of stable codes, one renderer.
 * Codes the Cloudflare service also uses keep its numbers; Switchboard's own start at 2100.
 * Clients and tests switch on `code`, never on message text. The README's error table mirrors
 * `ErrorCode` — keep them together.
 */
export const ErrorCode = {
  /** 404 — the gateway id in the path is not configured (Cloudflare's 2001). */
  UnknownGateway: 2001,
  /** 429 — a rate-limit rule is exhausted (Cloudflare's 2003). */
  RateLimited: 2003,
  /** 429 — a `budgets` rule's spend (settled + reserved) reached its USD limit for the window (Cloudflare's 2041); `Retry-After` says when it resets. */
  SpendLimited: 2041,
  /** 401 — missing, wrong, expired or revoked gateway token (Cloudflare's 2009). */
  Unauthorized: 2009,
  /** 424 — a guardrail deny-list rule (`regex` or `keywords`) blocked the prompt; nothing went upstream (Cloudflare's 2016). */
  PromptBlocked: 2016,
  /** 424 — a guardrail deny-list rule blocked the answer; mid-stream, the SSE stream ends with this error event (Cloudflare's 2017). */
  AnswerBlocked: 2017,
  /** 424 — a guardrail detector (email, phone, card, iban, api-key) blocked the prompt; nothing went upstream (Cloudflare's DLP 2029). */
  PromptBlockedDlp: 2029,
  /** 424 — a guardrail detector blocked the answer; mid-stream, the SSE stream ends with this error event (Cloudflare's DLP 2030). */
  AnswerBlockedDlp: 2030,
  /** 400 — a compat request the gateway cannot read: body not a JSON object, `model` without its `{provider}/` prefix, no `messages` (Cloudflare's 2019 "Chat completion bad format"). */
  CompatBadFormat: 2019,
  /** 404 — no route matches the method and path. */
  NotFound: 2100,
  /** 400 — the provider slug in the path is not a known or configured provider. */
  UnknownProvider: 2101,
  /** 404 — the account id in the path does not match the configured `accountId`. */
  UnknownAccount: 2102,
  /** 413 — the request body is larger than `server.maxBodyBytes`. */
  BodyTooLarge: 2103,
  /** 400 — a `cf-aig-*` header has a value the gateway cannot use. */
  InvalidHeader: 2104,
  /** 400 — `cf-aig-metadata` breaks one of its rules. */
  InvalidMetadata: 2105,
  /** 400 — the request body or a query parameter is malformed. */
  BadRequest: 2106,
  /** 405 — a method no provider API uses (TRACE, CONNECT, PROPFIND, …); `Allow` lists the ones served. */
  MethodNotAllowed: 2107,
  /** 502 — the provider could not be reached (DNS, refused, reset before an answer). */
  UpstreamUnreachable: 2110,
  /** 504 — the provider sent no first byte within the request timeout. */
  UpstreamTimeout: 2111,
  /** 500 — a plugin threw or returned something that is not a Response. */
  PluginFailed: 2120,
  /** 500 — anything else that went wrong inside the gateway. */
  Internal: 2121,
  /** 500 — a plugin spent longer than its time limit on a request (`server.pluginTimeout`), not counting time in `next()`. */
  PluginTimeout: 2122,
  /** 408 — the request body arrived slower than `server.minBodyRate`. */
  BodyTooSlow: 2108,
  /** 503 — request bodies already held in memory reach `server.bodyMemoryBytes`; retry after `Retry-After`. */
  Busy: 2109,
  /** 499 — the client closed the connection before the answer (recorded; the client never sees it). */
  ClientClosed: 2112,
  /** 503 — the gateway is stopping and `server.drainTimeout` passed; the request was ended. */
  ShuttingDown: 2113,
  /** Recorded only — the provider's stream broke after the first byte; the client saw the stream end with an error. */
  StreamBroken: 2114,
  /** 503 — every step's target is skipped by its circuit breaker (or failed earlier in the request); `Retry-After` says when one reopens. */
  CircuitOpen: 2115,
  /** 429 — a WebSocket connection already has `server.websocket.maxInFlight` requests in flight. */
  TooManyInFlight: 2116,
  /** 403 — a CORS preflight: the gateway answers no cross-origin request from a browser (it sends no CORS headers). */
  CrossOriginRefused: 2117,
  /**
   * 503 — a shared store (PostgreSQL, Redis) did not answer within `storage.timeout`, and the feature's
   * policy is to refuse: a run-time gateway token cannot be checked, or `storage.limitsWhenDown: "closed"`.
   */
  StorageUnavailable: 2118,
  /** 400 — `model: "dynamic/<name>"` names no configured route. */
  UnknownRoute: 2140,
  /** 400 — the route's `when` condition, or every target's, does not hold for the request's `cf-aig-metadata`. */
  RouteNotApplicable: 2141,
  /** 400 — the compat request uses something the target provider cannot express (`n > 1` for Anthropic, audio input, …); the message says what and why. */
  NotTranslatable: 2142,
  /** 403 — the admin API is disabled because no admin token is configured. */
  AdminDisabled: 2130,
  /** 401 — the admin API token is missing or wrong. */
  AdminUnauthorized: 2131,
  /** 404 — the log id does not exist in this gateway. */
  LogNotFound: 2132,
  /** 404 — the gateway token id does not exist in this gateway. */
  TokenNotFound: 2133,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class GatewayError extends Error {
  override readonly name = "GatewayError";
  /** Extra headers for the answer (`Retry-After`, `Connection: close`). */
  readonly headers?: Record<string, string>;
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options);
    this.headers = options?.headers;
  }
}

export interface ErrorEnvelope {
  success: false;
  error: { code: number; message: string }[];
  name: "AiGatewayError";
  httpCode: number;
  internalCode: number;
  message: string;
  /** Present on the admin API, so Cloudflare's V4 clients read the error too. */
  errors?: { code: number; message: string }[];
  messages?: unknown[];
  result?: null;
}

export function envelope(status: number, code: number, message: string, v4 = false): ErrorEnvelope {
  const error = [{ code, message }];
  const body: ErrorEnvelope = { success: false, error, name: "AiGatewayError", httpCode: status, internalCode: code, message };
  if (v4) Object.assign(body, { errors: error, messages: [], result: null });
  return body;
}

/**
 * The error of a request that was ended early — the client left (499/2112) or the gateway is stopping
 * and its drain deadline passed (503/2113) — saying what it was doing then.
 *
 * @example requestEnded("client", "before the provider answered")
 */
export function requestEnded(reason: "client" | "shutdown", during: string, cause?: unknown): GatewayError {
  return reason === "client"
    ? new GatewayError(499, ErrorCode.ClientClosed, `The client closed the connection ${during}`, { cause })
    : new GatewayError(503, ErrorCode.ShuttingDown, `The gateway is stopping and server.drainTimeout passed ${during}`, { cause });
}

/** Turns anything thrown into a GatewayError; unknown errors become 500/2121 without leaking internals. */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof StoreUnavailable) {
    return new GatewayError(503, ErrorCode.StorageUnavailable, "Storage unavailable: a shared store (PostgreSQL or Redis) did not answer; retry shortly", {
      cause: error,
      headers: { "retry-after": "1" },
    });
  }
  return new GatewayError(500, ErrorCode.Internal, "Internal gateway error; see the gateway's log for details", { cause: error });
}

export function errorResponse(error: GatewayError, headers?: Record<string, string>, v4 = false): Response {
  const merged = error.headers ? { ...error.headers, ...headers } : headers;
  return Response.json(envelope(error.status, error.code, error.message, v4), { status: error.status, headers: merged });
}
