import type { RequestContext } from "./context.ts";
import { ErrorCode, GatewayError } from "./errors.ts";
import type { Next, Plugin } from "./types.ts";

export type Terminal = (ctx: RequestContext) => Promise<Response>;
export type Chain = (ctx: RequestContext, terminal: Terminal) => Promise<Response>;

/**
 * Onion composition (koa-compose, Hono `compose`): each plugin's `handle` wraps the rest of the chain.
 * A plugin's own failure becomes a 500 naming it; a GatewayError it throws on purpose passes as is.
 * A second `next()` from one layer is a bug unless the plugin declares `callsNextRepeatedly`.
 */
export function compose(plugins: readonly Plugin[]): Chain {
  const layers = plugins.filter((plugin) => typeof plugin.handle === "function");
  return function chain(ctx, terminal) {
    function dispatch(index: number): Promise<Response> {
      if (index === layers.length) return terminal(ctx);
      const plugin = layers[index];
      let calls = 0;
      const next: Next = () => {
        calls++;
        if (calls > 1 && !plugin.callsNextRepeatedly) {
          return Promise.reject(failed(plugin, new Error("called next() more than once")));
        }
        return dispatch(index + 1);
      };
      return invoke(plugin, ctx, next);
    }
    return dispatch(0);
  };
}

async function invoke(plugin: Plugin, ctx: RequestContext, next: Next): Promise<Response> {
  let response: unknown;
  try {
    response = await plugin.handle!(ctx, next);
  } catch (error) {
    throw error instanceof GatewayError ? error : failed(plugin, error);
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
