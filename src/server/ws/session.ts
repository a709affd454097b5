import type { ServerWebSocket, WebSocketHandler } from "bun";

/**
 * One accepted WebSocket: the Universal API over WebSocket (universal-session.ts) or a realtime
 * relay to a provider's own WebSocket (realtime.ts). Bun has one set of handlers per server; each
 * socket carries the session that serves it, and the handlers below pass every event on.
 */
export interface WsSession {
  open(ws: Socket): void;
  message(ws: Socket, message: string | Buffer): void;
  close(ws: Socket, code: number, reason: string): void;
  /** The socket's send buffer went below Bun's backpressure limit again. */
  drain?(ws: Socket): void;
}

export interface SocketData {
  session: WsSession;
}

export type Socket = ServerWebSocket<SocketData>;

/**
 * Every open socket, so a graceful stop can close them (1001) once their requests have finished.
 * A session adds itself on open and removes itself on close.
 */
export class OpenSockets {
  readonly #sockets = new Set<Socket>();
  /** Set when the gateway starts to stop: sessions take no new requests. */
  closing = false;
  add(ws: Socket): void {
    this.#sockets.add(ws);
  }
  delete(ws: Socket): void {
    this.#sockets.delete(ws);
  }
  get size(): number {
    return this.#sockets.size;
  }
  /** Closes every socket with `code`. */
  closeAll(code: number, reason: string): void {
    for (const ws of this.#sockets) ws.close(code, reason);
    this.#sockets.clear();
  }
}

/** The handlers Bun.serve gets: each event goes to the socket's own session. */
export function websocketHandlers(limits: { maxPayloadLength: number; idleTimeout: number }): WebSocketHandler<SocketData> {
  return {
    maxPayloadLength: limits.maxPayloadLength,
    idleTimeout: limits.idleTimeout,
    sendPings: true,
    // Sessions bound what they queue themselves (a slow reader is closed with a code that says so);
    // Bun must never drop a frame silently.
    backpressureLimit: 2 ** 31 - 1,
    closeOnBackpressureLimit: false,
    perMessageDeflate: false,
    open: (ws) => ws.data.session.open(ws),
    message: (ws, message) => ws.data.session.message(ws, message),
    close: (ws, code, reason) => ws.data.session.close(ws, code, reason),
    drain: (ws) => ws.data.session.drain?.(ws),
  };
}
