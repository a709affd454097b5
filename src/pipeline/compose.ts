import type { ResolvedGateway } from "../config/defaults.ts";
import type { RequestContext } from "./context.ts";
import { LayerClock } from "./deadlines.ts";
import { ErrorCode, GatewayError, toGatewayError } from "./errors.ts";
import type { Next, Plugin } from "./types.ts";

export type Terminal = (ctx: RequestContext) => Promise<Response>;
export type Chain = (ctx: RequestContext, terminal: Terminal) => Promise<Response>;

export interface ComposeOptions {
  /** The time limit of a plugin's own work per request, in ms (0: none). @default () => 0 */
  timeoutOf?: (plugin: Plugin) => number;
}

/** One gateway's layers: the plugins that apply to it, with their time limits. */
interface Layers {
  plugins: Plugin[];
  limits: number[];
  timed: boolean;
}

/**
 * Onion composition (koa-compose, Hono `compose`): each plugin's `handle` wraps the rest of the chain.
 * A plugin's own failure becomes a 500 naming it; a GatewayError it throws on purpose passes as is,
 * and so does whatever failed further in (the upstream call is nobody's plugin). A second `next()`
 * from one layer is a bug unless the plugin declares `callsNextRepeatedly`. Each layer's own time
 * (time spent in `next()` excluded) is bounded by its timeout: past it the request fails with
 * 500/2122 naming the plugin, and a late `next()` from it reaches nothing. The request body is read
 * before the first layer that reads bodies, and before the upstream call.
 *
 * Each gateway gets its own chain, without the plugins whose `appliesTo` says they have nothing to do
 * there (auth without authentication, rate limits or budgets that are not configured): a layer costs
 * every request an async call, a `next` closure and two clock readings even when it only passes through.
 */
export function compose(plugins: readonly Plugin[], options: ComposeOptions = {}): Chain {
  const withHandle = plugins.filter((plugin) => typeof plugin.handle === "function");
  const byGateway = new WeakMap<object, Layers>();
  const everywhere = layersOf(withHandle, options);
  const layersFor = (gateway: ResolvedGateway | undefined): Layers => {
    if (!gateway) return everywhere;
    let layers = byGateway.get(gateway);
    if (!layers) byGateway.set(gateway, (layers = layersOf(withHandle.filter((plugin) => applies(plugin, gateway)), options)));
    return layers;
  };

  return function chain(ctx, terminal) {
    const { plugins: layers, limits, timed } = layersFor(ctx.gateway);
    const { promise: expired, reject } = timed ? Promise.withResolvers<never>() : { promise: null, reject: null };
    const clock = timed ? new LayerClock(limits, (layer) => reject!(timedOut(layers[layer], limits[layer]))) : null;

    function dispatch(index: number): Promise<Response> {
      if (clock?.expired !== undefined && clock.expired >= 0) return Promise.reject(lateNext(layers[clock.expired]));
      if (index === layers.length) {
        clock?.enter(-1);
        return ctx.bodyPending ? ctx.loadBody().then(() => upstream(ctx, terminal, clock, index - 1)) : upstream(ctx, terminal, clock, index - 1);
      }
      const plugin = layers[index];
      if (ctx.bodyPending && plugin.readsBody !== false) return ctx.loadBody().then(() => invoke(plugin, ctx, index, clock, dispatch));
      return invoke(plugin, ctx, index, clock, dispatch);
    }

    if (!clock) return dispatch(0);
    const run = dispatch(0);
    return Promise.race([run, expired!]).finally(() => clock.stop());
  };
}

function layersOf(plugins: Plugin[], options: ComposeOptions): Layers {
  const limits = plugins.map((plugin) => options.timeoutOf?.(plugin) ?? 0);
  return { plugins, limits, timed: limits.some((limit) => limit > 0) };
}

/** A plugin whose `appliesTo` throws is kept: running a layer that had nothing to do is only slower. */
function applies(plugin: Plugin, gateway: ResolvedGateway): boolean {
  try {
    return plugin.appliesTo?.(gateway) ?? true;
  } catch {
    return true;
  }
}

/** The upstream call's own failures are typed here, so no plugin that merely awaited them is blamed. */
async function upstream(ctx: RequestContext, terminal: Terminal, clock: LayerClock | null, caller: number): Promise<Response> {
  try {
    return await terminal(ctx);
  } catch (error) {
    throw toGatewayError(error);
  } finally {
    clock?.enter(caller);
  }
}

async function invoke(plugin: Plugin, ctx: RequestContext, index: number, clock: LayerClock | null, dispatch: (index: number) => Promise<Response>): Promise<Response> {
  let calls = 0;
  const next: Next = () => {
    calls++;
    if (calls > 1 && !plugin.callsNextRepeatedly) return Promise.reject(failed(plugin, new Error("called next() more than once")));
    return dispatch(index + 1);
  };
  clock?.enter(index);
  let response: unknown;
  try {
    response = await plugin.handle!(ctx, next);
  } catch (error) {
    throw error instanceof GatewayError ? error : failed(plugin, error);
  } finally {
    // Control returns to the layer that called this one's next() (none for the first).
    clock?.enter(index - 1);
  }
  if (!(response instanceof Response)) throw failed(plugin, new Error(`returned ${describe(response)} instead of a Response`));
  return response;
}

function timedOut(plugin: Plugin, limit: number): GatewayError {
  return new GatewayError(500, ErrorCode.PluginTimeout, `Plugin "${plugin.name}" did not finish within ${limit} ms (server.pluginTimeout / server.pluginTimeouts)`);
}

function lateNext(plugin: Plugin): GatewayError {
  return new GatewayError(500, ErrorCode.PluginTimeout, `Plugin "${plugin.name}" ran out of time; nothing further runs for this request`);
}

function failed(plugin: Plugin, error: unknown): GatewayError {
  const reason = error instanceof Error ? error.message : String(error);
  return new GatewayError(500, ErrorCode.PluginFailed, `Plugin "${plugin.name}" failed: ${reason}`, { cause: error });
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  return typeof value;
}
