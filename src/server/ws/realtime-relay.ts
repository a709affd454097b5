import type { Outcome } from "../../pipeline/deliver.ts";
import { ErrorCode } from "../../pipeline/errors.ts";
import { emptyUsage } from "../../pipeline/record.ts";
import type { Runtime } from "../runtime.ts";
import type { RelayPlan } from "./realtime.ts";
import type { Socket, WsSession } from "./session.ts";

/** Frames and bytes a client may send before the provider's WebSocket is open; past either, the session is closed. */
const MAX_QUEUED_FRAMES = 100;
const MAX_QUEUED_BYTES = 1024 * 1024;
/** Text frames larger than this are relayed but not read for usage (usage events are small). */
const MAX_USAGE_FRAME = 4 * 1024 * 1024;
/** Provider close codes that end a session normally; any other ends it as failed. */
const NORMAL_CLOSE = new Set([1000, 1001, 1005]);
/** A close reason is at most 123 bytes of UTF-8 (RFC 6455 §5.5). */
const MAX_REASON_BYTES = 123;

type Frame = string | ArrayBuffer | Uint8Array;

/**
 * One realtime session: the client's socket and the provider's, relayed frame for frame (text stays
 * text, binary stays binary) until either side closes; the close code and reason are passed on. The
 * session counts as a request in flight (`Pipeline.track`): a graceful stop waits for it, then ends
 * it with 1001, and its one record — duration, usage, how it ended — goes to every `onComplete`.
 * Nothing a client can make it hold is unbounded: frames before the provider opens, either side's
 * send buffer (`server.websocket.maxBufferedBytes`), the time the provider takes to open.
 */
export class RealtimeRelay implements WsSession {
  readonly #usage = emptyUsage();
  #ws: Socket | null = null;
  #upstream: WebSocket | null = null;
  #upstreamOpen = false;
  #queue: Frame[] = [];
  #queuedBytes = 0;
  #finish: ((outcome: Outcome) => void) | null = null;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  /** Why the provider's WebSocket did not open, as far as it can be said without naming the host. */
  #openFailure: string | null = null;
  #streamError: string | null = null;
  #clientGone = false;
  #bytesToClient = 0;
  #ended = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly plan: RelayPlan,
  ) {
    if (plan.model) this.#usage.model = plan.model;
  }

  get #slug(): string {
    return this.plan.ctx.provider;
  }

  get #maxBuffered(): number {
    return this.runtime.handle.config.server.websocket.maxBufferedBytes;
  }

  open(ws: Socket): void {
    this.#ws = ws;
    this.runtime.sockets.add(ws);
    const { ctx } = this.plan;
    this.#finish = this.runtime.pipeline.track(ctx);
    ctx.signal.addEventListener("abort", () => this.#shutdown(), { once: true });
    this.#connect();
  }

  message(_ws: Socket, message: string | Buffer): void {
    if (this.#ended) return;
    if (this.#upstreamOpen) {
      this.#toUpstream(message);
      return;
    }
    const size = sizeOf(message);
    if (this.#queue.length >= MAX_QUEUED_FRAMES || this.#queuedBytes + size > MAX_QUEUED_BYTES) {
      const tooMany = this.#queue.length >= MAX_QUEUED_FRAMES;
      const reason = tooMany
        ? `more than ${MAX_QUEUED_FRAMES} frames before ${this.#slug}'s WebSocket opened`
        : `more than ${MAX_QUEUED_BYTES} bytes before ${this.#slug}'s WebSocket opened`;
      this.plan.ctx.gatewayError = { code: ErrorCode.BadRequest, message: `The client sent ${reason}` };
      this.#close(tooMany ? 1008 : 1009, `sent ${reason}`, 1001);
      return;
    }
    // Bun may reuse a binary frame's memory once this handler returns; a queued frame keeps its own copy.
    this.#queue.push(typeof message === "string" ? message : Uint8Array.from(message));
    this.#queuedBytes += size;
  }

  close(ws: Socket, code: number, reason: string): void {
    this.runtime.sockets.delete(ws);
    if (this.#ended) return;
    // 1006: the connection dropped without a closing handshake; the client left rather than ended the session.
    if (code === 1006) this.#clientGone = true;
    this.#end();
    this.#closeUpstream(sendable(code, 1001), reason);
  }

  #connect(): void {
    const { url, protocols, ctx, openTimeout } = this.plan;
    let upstream: WebSocket;
    try {
      upstream = new WebSocket(url, { headers: ctx.step.headers, protocols });
    } catch (error) {
      this.#failOpen(ErrorCode.UpstreamUnreachable, `could not open ${this.#slug}'s WebSocket (${errorCode(error) ?? "the handshake could not be made"})`);
      return;
    }
    this.#upstream = upstream;
    upstream.binaryType = "arraybuffer";
    this.#deadline = setTimeout(
      () => this.#failOpen(ErrorCode.UpstreamTimeout, `${this.#slug} did not open its WebSocket within ${openTimeout} ms (cf-aig-request-timeout / requestTimeout)`),
      openTimeout,
    );
    upstream.addEventListener("open", () => this.#upstreamOpened());
    upstream.addEventListener("message", (event) => this.#fromUpstream(event.data as string | ArrayBuffer));
    upstream.addEventListener("error", (event) => {
      this.#openFailure ??= openFailure(event);
    });
    upstream.addEventListener("close", (event) => this.#upstreamClosed(event.code, event.reason));
  }

  #upstreamOpened(): void {
    const upstream = this.#upstream!;
    if (this.#ended) {
      upstream.close(1000);
      return;
    }
    clearTimeout(this.#deadline);
    this.#upstreamOpen = true;
    this.plan.ctx.ttfbMs = performance.now() - this.plan.ctx.startedAt;
    const queued = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const frame of queued) if (!this.#toUpstream(frame)) return;
  }

  /** Sends one client frame to the provider, or ends the session when the provider has left too much unread. */
  #toUpstream(frame: Frame): boolean {
    const upstream = this.#upstream!;
    // Closing: its close event ends the session; what the client sends meanwhile cannot be delivered.
    if (upstream.readyState !== WebSocket.OPEN) return true;
    if (upstream.bufferedAmount + sizeOf(frame) > this.#maxBuffered) {
      this.#streamError = `${this.#slug} stopped reading: its send buffer passed server.websocket.maxBufferedBytes`;
      this.#close(1011, `${this.#slug} is not reading`, 1008, "the client's frames are not being read");
      return false;
    }
    upstream.send(frame);
    return true;
  }

  /** Sends one provider frame to the client, or closes it (1008) when it has left too much unread. */
  #fromUpstream(data: string | ArrayBuffer): void {
    if (this.#ended) return;
    const ws = this.#ws!;
    const size = sizeOf(data);
    if (ws.getBufferedAmount() + size > this.#maxBuffered) {
      this.plan.ctx.gatewayError = { code: ErrorCode.ClientClosed, message: "Closed with 1008: the client stopped reading (send buffer over server.websocket.maxBufferedBytes)" };
      this.#clientGone = true;
      this.#close(1008, "the client is not reading: send buffer over server.websocket.maxBufferedBytes", 1001);
      return;
    }
    ws.send(data);
    this.#bytesToClient += size;
    if (typeof data === "string") this.#readUsage(data);
  }

  #readUsage(text: string): void {
    const reader = this.plan.realtime.usage;
    if (!reader || text.length > MAX_USAGE_FRAME || !text.includes(reader.marker)) return;
    try {
      reader.read(JSON.parse(text), this.#usage);
    } catch {
      // Not JSON after all: relayed as it was, with no usage.
    }
  }

  #upstreamClosed(code: number, reason: string): void {
    if (this.#ended) return;
    if (!this.#upstreamOpen) {
      this.#failOpen(ErrorCode.UpstreamUnreachable, `could not open ${this.#slug}'s WebSocket (${this.#openFailure ?? "the connection failed"})`);
      return;
    }
    if (!NORMAL_CLOSE.has(code)) this.#streamError = `${this.#slug} closed the WebSocket with ${code}`;
    const forwarded = sendable(code, 1011);
    this.#close(forwarded, forwarded === code || code === 1005 ? reason : `${this.#slug}'s WebSocket ended abnormally (${code})`, null);
  }

  /** The provider's WebSocket never opened: the client is closed with 1011 and a reason that names the provider, never its host. */
  #failOpen(code: number, reason: string): void {
    if (this.#ended) return;
    this.plan.ctx.gatewayError = { code, message: reason.charAt(0).toUpperCase() + reason.slice(1) };
    this.#close(1011, reason, 1001);
  }

  /** The gateway is stopping and `server.drainTimeout` passed (`Pipeline.abortAll`). */
  #shutdown(): void {
    if (this.#ended) return;
    this.#close(1001, "the gateway is stopping", 1001, "the gateway is stopping");
  }

  /** Ends the session, then closes the client (and the provider, unless `upstreamCode` is null). */
  #close(clientCode: number, clientReason: string, upstreamCode: number | null, upstreamReason = ""): void {
    if (this.#ended) return;
    // First: Bun runs the client's close handler inside `ws.close()`, which must find the session over
    // rather than pass the client's code and reason on to the provider.
    this.#end();
    this.#ws?.close(clientCode, fitReason(clientReason));
    if (upstreamCode !== null) this.#closeUpstream(upstreamCode, upstreamReason);
  }

  #closeUpstream(code: number, reason: string): void {
    const upstream = this.#upstream;
    if (!upstream || upstream.readyState === WebSocket.CLOSING || upstream.readyState === WebSocket.CLOSED) return;
    try {
      upstream.close(code, fitReason(reason));
    } catch {
      // Still connecting, on a runtime that refuses to close then: `#upstreamOpened` closes it once it opens.
    }
  }

  /** Hands the session's record on, once. */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#deadline);
    this.#queue = [];
    if (this.#ws) this.runtime.sockets.delete(this.#ws);
    this.#finish?.({
      status: 101,
      headers: this.plan.responseHeaders,
      size: this.#bytesToClient,
      captured: null,
      truncated: false,
      usage: this.#usage,
      sse: false,
      aborted: this.#clientGone,
      streamError: this.#streamError,
    });
  }
}

/** Bytes of a binary frame; UTF-16 units of a text frame (close enough for bounds, and free to compute). */
function sizeOf(frame: Frame): number {
  return typeof frame === "string" ? frame.length : frame.byteLength;
}

/**
 * A close code as it may be sent on: 1005 (no code given) becomes 1000; codes no endpoint may send
 * (1006 abnormal closure, 1015 TLS failure, reserved and unassigned ones) become `fallback`.
 */
export function sendable(code: number, fallback: number): number {
  if (code === 1005) return 1000;
  const registered = code === 1000 || (code >= 1001 && code <= 1003) || (code >= 1007 && code <= 1014);
  return registered || (code >= 3000 && code <= 4999) ? code : fallback;
}

/** `reason` cut to what a close frame may carry, on a character boundary. */
function fitReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_REASON_BYTES) return reason;
  let cut = reason.slice(0, MAX_REASON_BYTES);
  while (Buffer.byteLength(cut) > MAX_REASON_BYTES - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

/**
 * Why Bun's client could not open the provider's WebSocket: the system error's code, or the status
 * the provider answered instead of 101. Bun's message names the URL, query string and all; only
 * these two facts are taken from it.
 */
function openFailure(event: Event): string | null {
  const { error, message } = event as ErrorEvent;
  const code = errorCode(error);
  if (code) return code;
  const status = /Expected 101 status code: (\d{3})/.exec(typeof message === "string" ? message : "")?.[1];
  return status ? `it answered HTTP ${status}` : null;
}

function errorCode(error: unknown): string | null {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" && /^[A-Z0-9_]{2,40}$/.test(code) ? code : null;
}
