/**
 * The "trap" of the hardening suite: a TCP listener (`Bun.listen` on port 0) that nothing may ever
 * reach. Hostile inputs name it in every spelling a careless URL builder could turn into a host —
 * userinfo (`x@127.0.0.1:PORT`), scheme-relative (`//127.0.0.1:PORT`), absolute URLs, percent-,
 * double- and full-width-encoded slashes, backslashes — and the test asserts `connections` is 0.
 *
 * @example
 * using trap = startTrap();
 * for (const hostile of hostileSegments(trap.hostPort)) await fetch(`${base}/openai/${hostile}`);
 * expect(trap.connections).toBe(0);
 */

export interface Trap extends Disposable {
  /** `127.0.0.1:PORT` */
  readonly hostPort: string;
  readonly port: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  stop(): void;
}

/** Starts the listener; every connection is counted and closed at once. */
export function startTrap(): Trap {
  let connections = 0;
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        connections++;
        socket.end();
      },
      data() {},
    },
  });
  const stop = () => listener.stop(true);
  return {
    hostPort: `127.0.0.1:${listener.port}`,
    port: listener.port,
    get connections() {
      return connections;
    },
    stop,
    [Symbol.dispose]: stop,
  };
}

/**
 * Hostile values aimed at the trap, usable as a path segment, a Universal step's `endpoint` or
 * `provider`, a compat `model` and a WebSocket request field. Each is a valid URL path fragment
 * (no raw space or control character) so `fetch` sends it as written, bar its own normalisation.
 */
export function hostileSegments(hostPort: string): string[] {
  const [host, port] = hostPort.split(":");
  return [
    `@${hostPort}`,
    `x@${hostPort}`,
    `x:y@${hostPort}/chat/completions`,
    `//${hostPort}/x`,
    `///${hostPort}/x`,
    `http://${hostPort}/x`,
    `http:${hostPort}/x`,
    `https:%2F%2F${hostPort}`,
    `%2F%2F${hostPort}/x`,
    `%252F%252F${hostPort}/x`,
    `%40${hostPort}`,
    `%2e%2e/%2e%2e/${hostPort}`,
    `..%2F..%2F${hostPort}`,
    `\\\\${hostPort}\\x`,
    `%5C%5C${hostPort}`,
    `${hostPort}`,
    `${hostPort}#/x`,
    `?@${hostPort}`,
    `%3F@${hostPort}`,
    `\uFF0F\uFF0F${hostPort}`,
    `%EF%BC%8F%EF%BC%8F${hostPort}`,
    `localhost:${port}`,
    `[::ffff:${host}]:${port}`,
    `0x7f.1:${port}`,
    `2130706433:${port}`,
    `%00@${hostPort}`,
    `%0d%0aHost:%20${hostPort}`,
  ];
}
