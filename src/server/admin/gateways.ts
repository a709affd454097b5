import { statSync } from "node:fs";
import type { ResolvedConfig, ResolvedGateway } from "../../config/defaults.ts";
import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import { parsePaging } from "./filters.ts";
import { ok, page, type V4Success } from "./v4.ts";

/** A gateway as Cloudflare's management API describes it, plus Switchboard's own log settings. */
export interface GatewayObject {
  id: string;
  created_at: string;
  modified_at: string;
  cache_ttl: number;
  cache_invalidate_on_update: boolean;
  collect_logs: boolean;
  rate_limiting_interval: number;
  rate_limiting_limit: number;
  rate_limiting_technique: "fixed" | "sliding";
  authentication: boolean;
  log_management: number | null;
  log_management_strategy: "DELETE_OLDEST";
  logpush: boolean;
  is_default: boolean;
  /** Switchboard: request and response bodies are kept with each log. */
  collect_payloads: boolean;
  /** Switchboard: logs older than this are deleted. */
  log_max_age_days: number | null;
}

type Loose = Record<string, unknown>;
const object = (v: unknown): Loose | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Loose) : undefined);
const number = (v: unknown, fallback: number) => (typeof v === "number" && Number.isFinite(v) ? v : fallback);

/**
 * Reads keys other modules add to the gateway config later (`authentication`, `cache`, `rateLimit`)
 * without depending on their shape: anything unexpected falls back to Cloudflare's "off" values.
 */
function fromRaw(raw: Loose) {
  const auth = raw.authentication;
  const authObject = object(auth);
  const rate = object(raw.rateLimit) ?? (Array.isArray(raw.rateLimit) ? object(raw.rateLimit[0]) : undefined);
  const technique = rate?.technique ?? rate?.window;
  return {
    authentication: auth === true || (authObject !== undefined && authObject.enabled !== false),
    cache_ttl: number(object(raw.cache)?.ttl, 0),
    rate_limiting_interval: number(rate?.interval, 0),
    rate_limiting_limit: number(rate?.limit, 0),
    rate_limiting_technique: technique === "sliding" ? ("sliding" as const) : ("fixed" as const),
  };
}

/** Gateways live in the config file, so its modification time is their creation and modification time. */
function configTime(config: ResolvedConfig): string {
  try {
    if (config.configPath) return statSync(config.configPath).mtime.toISOString();
  } catch {
    // The file moved since start-up; fall through to now.
  }
  return new Date().toISOString();
}

/**
 * The gateways part of the admin API: `GET gateways` (paged, `search` by id) and `GET gateways/{id}`.
 * Gateways are read-only here; they are edited in gateway.config.ts.
 */
export function gatewayRoutes(config: ResolvedConfig) {
  const stamp = configTime(config);
  const describe = (gateway: ResolvedGateway): GatewayObject => ({
    id: gateway.id,
    created_at: stamp,
    modified_at: stamp,
    cache_invalidate_on_update: false,
    collect_logs: gateway.logs.collect,
    ...fromRaw(gateway.raw as Loose),
    log_management: gateway.logs.maxRows ?? null,
    log_management_strategy: "DELETE_OLDEST",
    logpush: false,
    is_default: gateway.id === "default",
    collect_payloads: gateway.logs.payloads,
    log_max_age_days: gateway.logs.maxAgeDays ?? null,
  });

  return {
    list(params: URLSearchParams): V4Success<GatewayObject[]> {
      const { page: pageNumber, perPage } = parsePaging(params);
      const search = params.get("search")?.toLowerCase() ?? "";
      const all = [...config.gateways.values()].filter((g) => g.id.toLowerCase().includes(search));
      const items = all.slice((pageNumber - 1) * perPage, pageNumber * perPage).map(describe);
      return page(items, all.length, pageNumber, perPage);
    },
    get(id: string): V4Success<GatewayObject> {
      return ok(describe(requireGateway(config, id)));
    },
  };
}

/** The configured gateway, or 404 UnknownGateway. */
export function requireGateway(config: ResolvedConfig, id: string): ResolvedGateway {
  const gateway = config.gateways.get(id);
  if (!gateway) throw new GatewayError(404, ErrorCode.UnknownGateway, `Gateway "${id}" is not configured`);
  return gateway;
}
