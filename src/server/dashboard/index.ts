import { Elysia, NotFoundError } from "elysia";
import api from "./api.client.js" with { type: "text" };
import app from "./app.client.js" with { type: "text" };
import charts from "./charts.client.js" with { type: "text" };
import detail from "./detail.client.js" with { type: "text" };
import formatJs from "./format.client.js" with { type: "text" };
import { dashboardPage } from "./page.ts";
import style from "./style.css" with { type: "text" };

/**
 * No inline script or style anywhere: scripts and styles come from this origin only, data only from
 * the admin API on this origin, and the page cannot be framed, post forms or be a base for URLs.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  body: string;
  etag: string;
  type: string;
}

const asset = (body: string, type: string): Asset => ({ body, type, etag: `"${new Bun.CryptoHasher("sha1").update(body).digest("hex").slice(0, 16)}"` });

// Served names, not source names: the modules import each other as `./charts.js`.
const ASSETS: Record<string, Asset> = {
  "app.js": asset(app, "text/javascript; charset=utf-8"),
  "api.js": asset(api, "text/javascript; charset=utf-8"),
  "charts.js": asset(charts, "text/javascript; charset=utf-8"),
  "detail.js": asset(detail, "text/javascript; charset=utf-8"),
  "format.js": asset(formatJs, "text/javascript; charset=utf-8"),
  "style.css": asset(style, "text/css; charset=utf-8"),
};

/** `no-cache` + ETag: a browser revalidates each load (a 304 costs nothing), so an upgraded binary never meets stale assets. */
function serve(request: Request, { body, etag, type }: Asset): Response {
  const headers = {
    "content-type": type,
    "cache-control": "no-cache",
    etag,
    "content-security-policy": DASHBOARD_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };
  if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
  return new Response(body, { headers });
}

/**
 * The dashboard (issue 19): `GET /` and its assets under `/dashboard/`, all built into the binary.
 * The page holds no secret: it asks for the admin token and reads everything from the admin API.
 *
 * @param accountId the configured `accountId`; the page puts it in admin API paths (any account works without one)
 * @example
 * app.use(dashboard({ accountId: config.accountId }));
 */
export function dashboard({ accountId = "local" }: { accountId?: string } = {}) {
  const page = asset(dashboardPage(accountId), "text/html; charset=utf-8");
  return new Elysia({ name: "dashboard" })
    .get("/", function dashboardPage({ request }) {
      return serve(request, page);
    })
    .get("/dashboard/:file", function dashboardAsset({ request, params }) {
      // NOT_FOUND: the app's one 404 envelope answers unknown names.
      if (!Object.hasOwn(ASSETS, params.file)) throw new NotFoundError();
      return serve(request, ASSETS[params.file]);
    });
}
