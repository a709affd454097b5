/**
 * A provider that never answers and tells when the gateway gives up on it: `arrived` resolves when a
 * request reaches it, `aborted` when the gateway closes that request.
 *
 * @example
 * using provider = silentProvider();
 * // config: providers: { "custom-silent": { baseUrl: provider.baseUrl } }
 * await provider.arrived; … ; await provider.aborted;
 */
export function silentProvider() {
  const arrived = Promise.withResolvers<void>();
  const aborted = Promise.withResolvers<void>();
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      request.signal.addEventListener("abort", () => aborted.resolve());
      arrived.resolve();
      return new Promise<Response>(() => {});
    },
  });
  return {
    baseUrl: `http://127.0.0.1:${server.port}/v1`,
    arrived: arrived.promise,
    aborted: aborted.promise,
    [Symbol.dispose]: () => server.stop(true),
  };
}
