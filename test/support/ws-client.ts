/**
 * WebSocket clients for the Universal API over WebSocket (reference §4a), one interface over the
 * `ws` package and Bun's own global `WebSocket`: send `universal.create` frames, then await a
 * request's frames by eventId, the next frame in arrival order, or the close.
 *
 * @example
 * await using s = await openSocket("ws", wsUrl(t.gw.base()));
 * s.create({ eventId: "a", provider: "openai", endpoint: "chat/completions", query });
 * const [created] = await s.result("a");
 */
import { createRequire } from "node:module";
import type WsWebSocket from "ws";

/**
 * The `ws` package itself. Under Bun, `import "ws"` gives Bun's built-in stand-in (its own client
 * again); loading the package's file by path gives the real one, which does its own handshake and
 * framing over `node:net` — an independent client, and one whose socket a test can pause.
 */
const WebSocket = createRequire(import.meta.url)("../../node_modules/ws/index.js") as typeof WsWebSocket;
type WebSocket = WsWebSocket;

/** A frame the gateway sent, parsed. */
export interface Frame {
  type: string;
  metadata: Record<string, unknown>;
  response?: unknown;
  error?: { internalCode: number; httpCode: number; message: string; [key: string]: unknown };
}

export type ClientKind = "ws" | "bun";
export const CLIENT_KINDS: ClientKind[] = ["ws", "bun"];

export interface OpenOptions {
  /** Upgrade request headers (Bun's client takes them too, as a non-standard option). */
  headers?: Record<string, string>;
  protocols?: string[];
}

export interface Closed {
  code: number;
  reason: string;
}

export interface FrameSocket extends AsyncDisposable {
  readonly kind: ClientKind;
  /** The subprotocol the server selected ("" when none). */
  readonly protocol: string;
  /** Every frame received so far, in arrival order. */
  readonly frames: Frame[];
  /** Sends a JSON frame (objects are encoded; strings and bytes go as they are). */
  send(frame: unknown): void;
  /** Sends `{"type":"universal.create","request": request}`. */
  create(request: unknown): void;
  /** The frames of `eventId`, once its last one (a `universal.created` with a response, `universal.done` or `universal.error`) arrived. */
  result(eventId: string): Promise<Frame[]>;
  /** The next frame in arrival order not yet returned by `next()`. */
  next(): Promise<Frame>;
  /** The first frame received (now or later) that `match` accepts. */
  waitFor(match: (frame: Frame) => boolean): Promise<Frame>;
  /** Resolves with the close code and reason, whoever closed. */
  readonly closed: Promise<Closed>;
  close(): void;
  /** The underlying `ws` client (only for kind "ws"). */
  readonly raw: WebSocket | null;
}

/** `http://host/path` → `ws://host/path`. */
export function wsUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, "ws");
}

/** True for the last frame of one request. */
export function isLast(frame: Frame): boolean {
  return frame.type === "universal.done" || frame.type === "universal.error" || (frame.type === "universal.created" && "response" in frame);
}

/** Opens a socket with the given client; rejects when the handshake fails. */
export async function openSocket(kind: ClientKind, url: string, options: OpenOptions = {}): Promise<FrameSocket> {
  const frames: Frame[] = [];
  const closed = Promise.withResolvers<Closed>();
  const opened = Promise.withResolvers<void>();
  let waiters: (() => void)[] = [];
  let isClosed = false;
  let closeCode = "";
  let cursor = 0;
  const notify = () => {
    const current = waiters;
    waiters = [];
    for (const wake of current) wake();
  };
  const onText = (text: string) => {
    frames.push(JSON.parse(text) as Frame);
    notify();
  };
  const onClose = (code: number, reason: string) => {
    isClosed = true;
    closeCode = `${code}${reason ? `: ${reason}` : ""}`;
    closed.resolve({ code, reason });
    opened.reject(new Error(`the WebSocket closed (${code}) before it opened`));
    notify();
  };

  let raw: WebSocket | null = null;
  let send: (data: string | Uint8Array) => void;
  let close: () => void;
  let protocol: () => string;
  if (kind === "ws") {
    const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
    raw = ws;
    ws.on("open", () => opened.resolve());
    ws.on("message", (data, binary) => (binary ? frames.push({ type: "<binary>", metadata: {} }) : onText(String(data))));
    ws.on("error", (error) => opened.reject(error));
    ws.on("close", (code, reason) => onClose(code, reason.toString()));
    send = (data) => ws.send(data);
    close = () => ws.close();
    protocol = () => ws.protocol;
  } else {
    const init = { headers: options.headers, protocols: options.protocols } as unknown as string[];
    const ws = new globalThis.WebSocket(url, init);
    ws.addEventListener("open", () => opened.resolve());
    ws.addEventListener("message", (event) => onText(String(event.data)));
    ws.addEventListener("error", () => opened.reject(new Error("the WebSocket handshake failed")));
    ws.addEventListener("close", (event) => onClose(event.code, event.reason));
    send = (data) => ws.send(data);
    close = () => ws.close();
    protocol = () => ws.protocol;
  }
  // A caller that awaits neither must not see an unhandled rejection.
  opened.promise.catch(() => {});
  await opened.promise;

  /** Resolves with `pick()` once it returns a value; rejects if the socket closes first. */
  const until = <T>(pick: () => T | undefined, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = pick();
        if (value !== undefined) return resolve(value);
        if (isClosed) return reject(new Error(`the socket closed (${closeCode}) while waiting for ${what}; frames: ${JSON.stringify(frames)}`));
        waiters.push(check);
      };
      check();
    });

  const socket: FrameSocket = {
    kind,
    get protocol() {
      return protocol();
    },
    frames,
    raw,
    send(frame) {
      send(typeof frame === "string" || frame instanceof Uint8Array ? frame : JSON.stringify(frame));
    },
    create(request) {
      socket.send({ type: "universal.create", request });
    },
    result(eventId) {
      return until(() => {
        const mine = frames.filter((frame) => frame.metadata?.eventId === eventId);
        return mine.some(isLast) ? mine : undefined;
      }, `the last frame of ${eventId}`);
    },
    next() {
      return until(() => (cursor < frames.length ? frames[cursor++] : undefined), `frame #${cursor}`);
    },
    waitFor(match) {
      return until(() => frames.find(match), "a matching frame");
    },
    closed: closed.promise,
    close,
    async [Symbol.asyncDispose]() {
      if (!isClosed) {
        close();
        await closed.promise;
      }
    },
  };
  return socket;
}

/** What the server answered instead of switching protocols (`ws` emits 'unexpected-response'). */
export interface Refusal {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** Attempts the upgrade with `ws`; resolves with the HTTP answer when the server refuses it, rejects when it accepts. */
export function refusedUpgrade(url: string, options: OpenOptions = {}): Promise<Refusal> {
  const { promise, resolve, reject } = Promise.withResolvers<Refusal>();
  const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
  ws.on("unexpected-response", (_request, response) => {
    let text = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => (text += chunk));
    response.on("end", () => {
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
      ws.terminate();
    });
  });
  ws.on("open", () => {
    reject(new Error("the server accepted the upgrade"));
    ws.terminate();
  });
  ws.on("error", (error) => reject(error));
  return promise;
}
