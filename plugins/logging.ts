import { booleanOption, definePlugin, type LogStore, type RequestContext, type RequestRecord } from "switchboard";

type Side = RequestRecord["request"];

/** Another plugin (the cache) may have asked for more of the body than the logs keep: cut to the gateway's cap. */
function withPayloadCap(record: RequestRecord, cap: number): RequestRecord {
  const over = (side: Side) => side.body !== null && side.body.byteLength > cap;
  if (!over(record.request) && !over(record.response)) return record;
  const cut = (side: Side): Side => (over(side) ? { ...side, body: side.body!.subarray(0, cap), truncated: true } : side);
  return { ...record, request: cut(record.request), response: cut(record.response) };
}

/**
 * Keeps one record per request in the log store. Per request, `cf-aig-collect-log: false` keeps
 * nothing and `cf-aig-collect-log-payload: false` keeps the record without bodies; otherwise the
 * gateway's `logs.collect` / `logs.payloads` decide. Writes are batched by the store, off the request path.
 */
export function logging() {
  let store: LogStore;
  const decide = (ctx: RequestContext) => {
    ctx.collectLog = booleanOption(ctx, "cf-aig-collect-log") ?? ctx.gateway.logs.collect;
    ctx.collectPayload = ctx.collectLog && (booleanOption(ctx, "cf-aig-collect-log-payload") ?? ctx.gateway.logs.payloads);
    ctx.state.set("logging", true);
  };
  return definePlugin({
    name: "logging",
    readsBody: false,
    setup(gateway) {
      store = gateway.stores.logs;
    },
    handle(ctx, next) {
      decide(ctx);
      if (ctx.collectPayload) ctx.captureResponse(ctx.gateway.logs.maxPayloadBytes);
      return next();
    },
    onComplete(record, ctx) {
      // A plugin before this one answered (401, 429, cache hit): decide now, from the same headers.
      if (!ctx.state.has("logging")) {
        try {
          decide(ctx);
        } catch {
          // The header was unusable; keep the record rather than lose it.
        }
        record.collectLog = ctx.collectLog;
        record.collectPayload = ctx.collectPayload;
      }
      if (record.collectLog) store.append(withPayloadCap(record, ctx.gateway.logs.maxPayloadBytes));
    },
    close() {
      return store.flush();
    },
  });
}
