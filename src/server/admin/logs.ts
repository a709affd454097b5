import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import type { LogDetail, LogRow, LogStore } from "../../store/types.ts";
import { parseDeleteQuery, parseLogQuery } from "./filters.ts";
import { parseLogPatch } from "./log-patch.ts";
import { ok, page, type V4Success } from "./v4.ts";

const notFound = (id: string) => new GatewayError(404, ErrorCode.LogNotFound, `Log "${id}" does not exist in this gateway`);

const isJson = (contentType: string) => {
  const media = contentType.split(";")[0].trim().toLowerCase();
  return media === "application/json" || media.endsWith("+json");
};

/**
 * The captured body of one side, as Cloudflare returns it: the raw bytes under the stored content
 * type. A JSON body cut by `maxPayloadBytes` no longer parses, so it goes out as text rather than as
 * JSON a client would fail to read.
 */
function payloadResponse(id: string, side: "request" | "response", stored: Awaited<ReturnType<LogStore["payload"]>>): Response {
  if (!stored) throw notFound(id);
  if (!stored.body) throw new GatewayError(404, ErrorCode.LogNotFound, `The ${side} body of log "${id}" was not captured`);
  let contentType = stored.contentType ?? "application/octet-stream";
  if (isJson(contentType)) {
    try {
      JSON.parse(new TextDecoder().decode(stored.body));
    } catch {
      contentType = "text/plain; charset=utf-8";
    }
  }
  return new Response(stored.body, { headers: { "content-type": contentType } });
}

/** The logs part of the admin API, for one store. Every handler takes an already-resolved gateway id. */
export function logRoutes(store: LogStore) {
  return {
    async list(gatewayId: string, params: URLSearchParams): Promise<V4Success<LogRow[]>> {
      const query = parseLogQuery(params);
      const { rows, total } = await store.list(gatewayId, query);
      return page(rows, total, query.page, query.perPage);
    },
    async get(gatewayId: string, id: string): Promise<V4Success<LogDetail>> {
      const log = await store.get(gatewayId, id);
      if (!log) throw notFound(id);
      return ok(log);
    },
    async payload(gatewayId: string, id: string, side: "request" | "response"): Promise<Response> {
      return payloadResponse(id, side, await store.payload(gatewayId, id, side));
    },
    /** Answers the updated log. */
    async patch(gatewayId: string, id: string, body: string): Promise<V4Success<LogDetail>> {
      const patch = parseLogPatch(body);
      if (!(await store.patch(gatewayId, id, patch))) throw notFound(id);
      return this.get(gatewayId, id);
    },
    async delete(gatewayId: string, params: URLSearchParams): Promise<V4Success<{ deleted: number }>> {
      const { filters, options } = parseDeleteQuery(params);
      return ok({ deleted: await store.delete(gatewayId, filters, options) });
    },
  };
}
