import type { Plugin } from "../../src/sdk.ts";

/**
 * A plugin that tells when the chain has started reading the request body: it runs before the body
 * is read (`readsBody: false`), and `next()` starts the read — and reserves its memory — synchronously,
 * so `reading` resolves once the body is being held.
 *
 * @example
 * const arrival = bodyArrival();
 * await using t = await gatewayWithMock({ plugins: [arrival.plugin, "logging"] });
 * // … send a body …
 * await arrival.reading;
 */
export function bodyArrival(): { plugin: Plugin; reading: Promise<void> } {
  const { promise, resolve } = Promise.withResolvers<void>();
  const plugin: Plugin = {
    name: "arrival",
    readsBody: false,
    handle(_ctx, next) {
      const answer = next();
      resolve();
      return answer;
    },
  };
  return { plugin, reading: promise };
}
