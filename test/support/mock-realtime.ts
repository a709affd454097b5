/**
 * A provider's realtime WebSocket API for tests: `Bun.serve` on port 0 that accepts any path, records
 * each handshake (path, query, headers, offered subprotocols) and every frame it receives, and echoes
 * frames back as they came (text as text, binary as binary). Text frames that are JSON commands make it
 * act instead of echoing (a path ending in `/refuse` is answered 401 instead of upgraded):
 * - `{"mock":"usage","input":N,"output":M}` → an OpenAI Realtime `response.done` event with that usage;
 * - `{"mock":"close","code":C,"reason":"…"}` → closes the socket with that code and reason.
 *
 * @example
 * await using upstream = await startMockRealtime();
 * const session = upstream.next(); // the next handshake, once its socket is open
 * … connect a client through the gateway …
 * expect((await session).headers.get("authorization")).toBe("Bearer sk-client");
 */
import type { ServerWebSocket } from "bun";

export interface MockRealtimeSession {
  path: string;
  search: string;
  headers: Headers;
  /** The subprotocols the handshake offered, in order. */
  protocols: string[];
  /** Every frame received, as received. */
  frames: (string | Uint8Array)[];
  /** Resolves once `count` frames have been received. */
  received(count: number): Promise<(string | Uint8Array)[]>;
  /** Resolves with the close code and reason the gateway sent (or 1006 when it dropped). */
  closed: Promise<{ code: number; reason: string }>;
  /** Sends a frame to the gateway. */
  send(frame: string | Uint8Array): void;
}

export interface MockRealtime extends AsyncDisposable {
  /** `http://127.0.0.1:{port}`; the gateway's provider base goes under it. */
  url: string;
  sessions: MockRealtimeSession[];
  /** The next session to open (one that opened before the call counts if no earlier call took it). */
  next(): Promise<MockRealtimeSession>;
  /**
   * Holds every handshake from now on until `release()`; `arrived` resolves once one is being held
   * (the gateway is connecting and its client's socket is open).
   */
  hold(): { arrived: Promise<void>; release(): void };
  stop(): Promise<void>;
}

interface Data {
  session: MockRealtimeSession;
  frameWaiters: { count: number; resolve: (frames: (string | Uint8Array)[]) => void }[];
  close: PromiseWithResolvers<{ code: number; reason: string }>;
}

export function responseDone(input: number, output: number): string {
  return JSON.stringify({
    type: "response.done",
    event_id: `event_${input}_${output}`,
    response: { object: "realtime.response", status: "completed", usage: { total_tokens: input + output, input_tokens: input, output_tokens: output, input_token_details: { cached_tokens: 0 } } },
  });
}

export async function startMockRealtime(): Promise<MockRealtime> {
  const sessions: MockRealtimeSession[] = [];
  const waiting: ((session: MockRealtimeSession) => void)[] = [];
  let taken = 0;
  let held: { arrived: PromiseWithResolvers<void>; gate: PromiseWithResolvers<void> } | null = null;
  const opened = (session: MockRealtimeSession) => {
    sessions.push(session);
    const waiter = waiting.shift();
    if (waiter) {
      taken++;
      waiter(session);
    }
  };
  const server = Bun.serve<Data, never>({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request, srv) {
      if (held) {
        held.arrived.resolve();
        await held.gate.promise;
      }
      const url = new URL(request.url);
      if (url.pathname.endsWith("/refuse")) return new Response("no such key", { status: 401 });
      const protocols = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
      const close = Promise.withResolvers<{ code: number; reason: string }>();
      const data: Data = { session: null!, frameWaiters: [], close };
      data.session = {
        path: url.pathname,
        search: url.search,
        headers: new Headers(request.headers),
        protocols,
        frames: [],
        closed: close.promise,
        received: (count) => {
          if (data.session.frames.length >= count) return Promise.resolve(data.session.frames.slice(0, count));
          const waiter = Promise.withResolvers<(string | Uint8Array)[]>();
          data.frameWaiters.push({ count, resolve: waiter.resolve });
          return waiter.promise;
        },
        send: () => {},
      };
      // A realtime API answers with the first subprotocol it understands; this one takes any.
      const headers = protocols.length > 0 ? { "Sec-WebSocket-Protocol": protocols[0] } : undefined;
      if (srv.upgrade(request, { data, headers })) return undefined;
      return new Response("expected a WebSocket upgrade", { status: 426 });
    },
    websocket: {
      open(ws: ServerWebSocket<Data>) {
        ws.data.session.send = (frame) => ws.send(frame);
        opened(ws.data.session);
      },
      message(ws: ServerWebSocket<Data>, message) {
        const { session, frameWaiters } = ws.data;
        session.frames.push(typeof message === "string" ? message : new Uint8Array(message));
        for (const waiter of [...frameWaiters]) {
          if (session.frames.length >= waiter.count) {
            frameWaiters.splice(frameWaiters.indexOf(waiter), 1);
            waiter.resolve(session.frames.slice(0, waiter.count));
          }
        }
        const command = typeof message === "string" ? parseCommand(message) : null;
        if (command?.mock === "usage") ws.send(responseDone(Number(command.input), Number(command.output)));
        else if (command?.mock === "close") ws.close(Number(command.code), String(command.reason ?? ""));
        else ws.send(message);
      },
      close(ws: ServerWebSocket<Data>, code, reason) {
        ws.data.close.resolve({ code, reason });
      },
    },
  });
  const stop = async () => {
    await server.stop(true);
  };
  return {
    url: `http://127.0.0.1:${server.port}`,
    sessions,
    next() {
      if (taken < sessions.length) return Promise.resolve(sessions[taken++]);
      const waiter = Promise.withResolvers<MockRealtimeSession>();
      waiting.push(waiter.resolve);
      return waiter.promise;
    },
    hold() {
      const current = { arrived: Promise.withResolvers<void>(), gate: Promise.withResolvers<void>() };
      held = current;
      return {
        arrived: current.arrived.promise,
        release() {
          if (held === current) held = null;
          current.gate.resolve();
        },
      };
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function parseCommand(text: string): Record<string, unknown> | null {
  if (!text.startsWith('{"mock"')) return null;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
}
