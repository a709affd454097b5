import type { RequestContext } from "../../pipeline/context.ts";
import { RequestContext as Context } from "../../pipeline/context.ts";
import { envelope, ErrorCode, GatewayError, toGatewayError } from "../../pipeline/errors.ts";
import { newLogId } from "../../pipeline/ids.ts";
import { parseSteps } from "../../pipeline/steps.ts";
import { SseParser } from "../../upstream/sse.ts";
import type { Runtime } from "../runtime.ts";
import { bodyValue, type CreatedMetadata, type ServerFrame } from "./frames.ts";
import type { Socket, WsSession } from "./session.ts";
import type { Connection, SessionFactory } from "./upgrade.ts";


/** The Universal API over one WebSocket: `universal.create` frames in, `universal.*` frames out (reference §4a). */
export function universalSession(runtime: Runtime): SessionFactory {
  return (connection) => new UniversalSession(runtime, connection);
}

/**
 * One connection's requests. Each `universal.create` frame becomes a `RequestContext` and runs
 * through the same pipeline as an HTTP Universal request (requestType `websocket`), concurrently with
 * the others; every frame it produces carries its `eventId`. The upgrade's `cf-aig-*` headers are
 * each request's defaults, a step's own headers win. Policy (auth, limits, cache, logs) applies to
 * every request, not only at the upgrade.
 */
class UniversalSession implements WsSession {
  readonly #inFlight = new Set<RequestContext>();
  /** The answers being relayed as `universal.stream` frames. */
  readonly #readers = new Set<{ cancel(): Promise<void> }>();
  #ws: Socket | null = null;
  #closed = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly connection: Connection,
  ) {}

  open(ws: Socket): void {
    this.#ws = ws;
    this.runtime.sockets.add(ws);
  }

  close(ws: Socket): void {
    this.#closed = true;
    this.runtime.sockets.delete(ws);
    this.#endAll();
  }

  /** The client is gone: every request ends now, upstream calls and streams included. */
  #endAll(): void {
    for (const ctx of this.#inFlight) ctx.abort("client");
    // A stream already being relayed ignores that abort (its body stream sees the client leave): cancel it.
    for (const reader of this.#readers) reader.cancel().catch(() => {});
  }

  message(_ws: Socket, message: string | Buffer): void {
    let request: RequestContext;
    try {
      request = this.#accept(message);
    } catch (error) {
      const { eventId, failure } = error instanceof FrameError ? error : { eventId: null, failure: toGatewayError(error) };
      this.#send({ type: "universal.error", metadata: { eventId, logId: newLogId() }, error: envelope(failure.status, failure.code, failure.message) });
      return;
    }
    this.#inFlight.add(request);
    this.#run(request).finally(() => this.#inFlight.delete(request));
  }

  /** Reads one client frame into a request context, or throws a FrameError to answer with. */
  #accept(message: string | Buffer): RequestContext {
    if (typeof message !== "string") throw new FrameError(null, bad("frames are JSON text; this one is binary"));
    let frame: unknown;
    try {
      frame = JSON.parse(message);
    } catch {
      throw new FrameError(null, bad('the frame is not JSON; send {"type":"universal.create","request":{eventId, provider, endpoint, headers, query}}'));
    }
    if (typeof frame !== "object" || frame === null || Array.isArray(frame)) throw new FrameError(null, bad("the frame must be a JSON object with a type"));
    const { type, request } = frame as Record<string, unknown>;
    const eventId = eventIdOf(request);
    if (type !== "universal.create") throw new FrameError(eventId, bad(`unknown frame type ${JSON.stringify(String(type)).slice(0, 60)}; the gateway takes "universal.create"`));
    if (typeof request !== "object" || request === null) throw new FrameError(eventId, bad('"request" must be a step {provider, endpoint, headers, query} or an array of steps'));
    if (this.runtime.sockets.closing) throw new FrameError(eventId, new GatewayError(503, ErrorCode.ShuttingDown, "The gateway is stopping; open a new connection"));
    const { maxInFlight } = this.runtime.handle.config.server.websocket;
    if (this.#inFlight.size >= maxInFlight) {
      throw new FrameError(eventId, new GatewayError(429, ErrorCode.TooManyInFlight, `This connection has ${maxInFlight} requests in flight (server.websocket.maxInFlight); wait for an answer first`));
    }
    let steps;
    try {
      steps = parseSteps(request, this.runtime.handle.providers);
    } catch (error) {
      throw new FrameError(eventId, toGatewayError(error));
    }
    const { gateway, accountId, headers, clientAddress } = this.connection;
    return new Context({ gateway, accountId, requestType: "websocket", headers, steps, clientAddress, eventId: eventId ?? undefined });
  }

  /** Runs one request through the pipeline and sends its frames. Never throws. */
  async #run(ctx: RequestContext): Promise<void> {
    try {
      const response = await this.runtime.pipeline.run(ctx);
      if (ctx.gatewayError) return this.#sendError(ctx, JSON.parse(await response.text()));
      const contentType = response.headers.get("content-type");
      const metadata: CreatedMetadata = { cacheStatus: ctx.cacheStatus, eventId: ctx.eventId, logId: ctx.logId, step: String(ctx.stepIndex), contentType };
      if (response.status < 200 || response.status > 299) metadata.status = response.status;
      if (contentType?.includes("text/event-stream") && response.body) return await this.#stream(ctx, response.body, metadata);
      let text: string;
      try {
        text = await response.text();
      } catch {
        // The provider's answer broke after its headers (the record says 2114): say so, as over HTTP, not as a gateway bug.
        return this.#sendError(ctx, envelope(502, ErrorCode.StreamBroken, "The provider's answer broke after the first byte"));
      }
      this.#send({ type: "universal.created", metadata, response: text === "" ? null : bodyValue(text) });
    } catch (error) {
      const failure = toGatewayError(error);
      this.#sendError(ctx, envelope(failure.status, failure.code, failure.message));
    }
  }

  /** `universal.created`, one `universal.stream` per SSE event, then `universal.done` — or `universal.error` if it broke. */
  async #stream(ctx: RequestContext, body: ReadableStream<Uint8Array>, metadata: CreatedMetadata): Promise<void> {
    this.#send({ type: "universal.created", metadata });
    let ended = false;
    const end = (error: unknown) => {
      if (ended) return;
      ended = true;
      this.#sendError(ctx, error as ReturnType<typeof envelope>);
    };
    const parser = new SseParser((event, data) => {
      if (ended || data === "[DONE]") return;
      // The gateway's own last words on a stream that broke (deliver.ts): an error, never a chunk. It goes
      // out at once: a graceful stop closes the socket as soon as the request's record is written.
      if (event === "error") end(bodyValue(data));
      else this.#send({ type: "universal.stream", metadata: { eventId: ctx.eventId }, response: bodyValue(data) });
    });
    const reader = body.getReader();
    this.#readers.add(reader);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.#closed) break;
        parser.feed(value);
      }
      parser.end();
    } catch {
      parser.end();
      end(envelope(502, ErrorCode.StreamBroken, "The provider's stream broke after the first byte"));
    } finally {
      this.#readers.delete(reader);
    }
    if (this.#closed || ended) return;
    this.#send({ type: "universal.done", metadata });
  }

  #sendError(ctx: RequestContext, error: ReturnType<typeof envelope>): void {
    this.#send({ type: "universal.error", metadata: { eventId: ctx.eventId, logId: ctx.logId }, error });
  }

  /**
   * Sends one frame, or closes the socket with 1008 when the client has left more than
   * `maxBufferedBytes` unread: the gateway never drops a frame silently nor grows without bound.
   */
  #send(frame: ServerFrame): void {
    const ws = this.#ws;
    if (this.#closed || !ws) return;
    const text = JSON.stringify(frame);
    const { maxBufferedBytes } = this.runtime.handle.config.server.websocket;
    const buffered = ws.getBufferedAmount();
    // A frame bigger than the limit goes out when nothing is waiting: the limit is for clients that do not read.
    if (buffered > 0 && buffered + Buffer.byteLength(text) > maxBufferedBytes) {
      this.#closed = true;
      ws.close(1008, "the client is not reading: send buffer over server.websocket.maxBufferedBytes");
      this.#endAll();
      return;
    }
    ws.send(text);
  }
}

/** A frame the session answers with `universal.error` instead of running it. */
class FrameError extends Error {
  constructor(
    readonly eventId: string | null,
    readonly failure: GatewayError,
  ) {
    super(failure.message);
  }
}

function bad(message: string): GatewayError {
  return new GatewayError(400, ErrorCode.BadRequest, `WebSocket frame: ${message}`);
}

/** The eventId that tags a request's frames: the step's, or the first step's for an array. */
function eventIdOf(request: unknown): string | null {
  const first = Array.isArray(request) ? request[0] : request;
  if (typeof first !== "object" || first === null) return null;
  const id = (first as Record<string, unknown>).eventId;
  return typeof id === "string" && id !== "" ? id : typeof id === "number" ? String(id) : null;
}
