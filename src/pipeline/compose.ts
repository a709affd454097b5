import type { RequestContext } from "./context.ts";
import { Stopwatch } from "./deadlines.ts";
import { ErrorCode, GatewayError, toGatewayError } from "./errors.ts";
import type { Next, Plugin } from "./types.ts";

export type Terminal = (ctx: RequestContext) => Promise<Response>;
export type Chain = (ctx: RequestContext, terminal: Terminal) => Promise<Response>;

export interface ComposeOptions {
  /** The time limit of a plugin's own work per request, in ms (0: none). @default () => 0 */
  timeoutOf?: (plugin: Plugin) => number;
}

/**
 * Onion composition (koa-compose, Hono `compose`): each plugin's `handle` wraps the rest of the chain.
 * A plugin's own failure becomes a 500 naming it; a GatewayError it throws on purpose passes as is,
 * and so does whatever failed further in (the upstream call is nobody's plugin). A second `next()`
 * from one layer is a bug unless the plugin declares `callsNextRepeatedly`. Each layer's own time
 * (time spent in `next()` excluded) is bounded by its timeout. The request body is read before the
 * first layer that reads bodies, and before the upstream call.
 */
export function compose(plugins: readonly Plugin[], options: ComposeOptions = {}): Chain {
  const layers = plugins.filter((plugin) => typeof plugin.handle === "function");
  const timeouts = layers.map((plugin) => options.timeoutOf?.(plugin) ?? 0);
  return function chain(ctx, terminal) {
    function dispatch(index: number): Promise<Response> {
      if (index === layers.length) return ctx.bodyPending ? ctx.loadBody().then(() => upstream(ctx, terminal)) : upstream(ctx, terminal);
      const plugin = layers[index];
      if (ctx.bodyPending && plugin.readsBody !== false) return ctx.loadBody().then(() => invoke(plugin, ctx, index, timeouts[index], dispatch));
      return invoke(plugin, ctx, index, timeouts[index], dispatch);
    }
    return dispatch(0);
  };
}

/** The upstream call's own failures are typed here, so no plugin that merely awaited them is blamed. */
async function upstream(ctx: RequestContext, terminal: Terminal): Promise<Response> {
  try {
    return await terminal(ctx);
  } catch (error) {
    throw toGatewayError(error);
  }
}

async function invoke(plugin: Plugin, ctx: RequestContext, index: number, timeoutMs: number, dispatch: (index: number) => Promise<Response>): Promise<Response> {
  let calls = 0;
  let clock: Stopwatch | null = null;
  let expired: Promise<never> | null = null;
  if (timeoutMs > 0) {
    const { promise, reject } = Promise.withResolvers<never>();
    expired = promise;
    clock = new Stopwatch(timeoutMs, () =>
      reject(new GatewayError(500, ErrorCode.PluginTimeout, `Plugin "${plugin.name}" did not finish within ${timeoutMs} ms (server.pluginTimeout / server.pluginTimeouts)`)),
    );
  }
  const next: Next = () => {
    calls++;
    if (calls > 1 && !plugin.callsNextRepeatedly) return Promise.reject(failed(plugin, new Error("called next() more than once")));
    // Past its time limit the request has been answered; a late next() must not reach the provider.
    if (clock?.done) return Promise.reject(new GatewayError(500, ErrorCode.PluginTimeout, `Plugin "${plugin.name}" called next() after its time limit`));
    const running = clock;
    if (!running) return dispatch(index + 1);
    running.pause();
    const inner = dispatch(index + 1);
    const resume = () => running.resume();
    inner.then(resume, resume);
    return inner;
  };
  let response: unknown;
  try {
    const handled = plugin.handle!(ctx, next);
    response = expired ? await Promise.race([handled, expired]) : await handled;
  } catch (error) {
    throw error instanceof GatewayError ? error : failed(plugin, error);
  } finally {
    clock?.stop();
  }
  if (!(response instanceof Response)) throw failed(plugin, new Error(`returned ${describe(response)} instead of a Response`));
  return response;
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
