import type { ResolvedConfig } from "../config/defaults.ts";

/**
 * Cross-origin access to the AI routes (`/v1/*`), for `server.cors`. Closed by default: no answer
 * carries an `access-control-*` header and preflights are refused (proxy.ts). Configured, a page on an
 * allowed origin may call the provider, Universal and compat routes: its preflight is answered here
 * (never forwarded: a provider's own CORS answer must not decide who may use held keys), and every
 * answer to it names the origin and exposes the `cf-aig-*`, `RateLimit-*` and `Retry-After` headers.
 * Credentials (cookies) are never allowed: callers authenticate with headers.
 *
 * @example
 * server: { cors: { origins: ["https://app.example.com"] } }
 */
export interface CorsPolicy {
  /** Whether pages on `origin` may call the AI routes. */
  allows(origin: string): boolean;
  /** The answer to an allowed origin's preflight, or null (not a preflight, or an origin not allowed). */
  preflight(request: Request): Response | null;
  /** Adds the CORS headers to `response` when `request` comes from an allowed origin. */
  decorate(request: Request, response: Response): Response;
}

export function corsPolicy(settings: ResolvedConfig["server"]["cors"], methods: readonly string[]): CorsPolicy | null {
  if (!settings) return null;
  const any = settings.origins.includes("*");
  const origins = new Set(settings.origins);
  const allowed = (origin: string | null): origin is string => origin !== null && (any || origins.has(origin));
  const allowMethods = methods.join(", ");
  const maxAge = String(settings.maxAge);
  return {
    allows: (origin) => allowed(origin),
    preflight(request) {
      if (request.method !== "OPTIONS" || !request.headers.has("access-control-request-method")) return null;
      const origin = request.headers.get("origin");
      if (!allowed(origin)) return null;
      const headers = new Headers({
        "access-control-allow-origin": origin,
        "access-control-allow-methods": allowMethods,
        "access-control-max-age": maxAge,
        vary: "Origin, Access-Control-Request-Headers",
      });
      const asked = request.headers.get("access-control-request-headers");
      if (asked) headers.set("access-control-allow-headers", asked);
      return new Response(null, { status: 204, headers });
    },
    decorate(request, response) {
      const origin = request.headers.get("origin");
      if (!allowed(origin)) return response;
      response.headers.set("access-control-allow-origin", origin);
      response.headers.set("access-control-expose-headers", "*");
      response.headers.append("vary", "Origin");
      return response;
    },
  };
}

/**
 * Whether a browser page on another origin may open a WebSocket to `gateway` (browsers send `Origin`
 * on an upgrade, and no CORS check guards WebSockets). Yes when the gateway wants a token (the page
 * must hold one), when `server.cors` allows the origin, or when the origin is the gateway's own host.
 * Otherwise no: a page must not spend the keys an open gateway holds — on `127.0.0.1` it could reach a
 * gateway nobody else can.
 */
export function webSocketOriginAllowed(request: Request, authenticated: boolean, cors: CorsPolicy | null): boolean {
  const origin = request.headers.get("origin");
  if (origin === null || authenticated) return true;
  if (cors?.allows(origin)) return true;
  try {
    return new URL(origin).host === request.headers.get("host");
  } catch {
    return false;
  }
}
