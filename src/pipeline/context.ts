import { newLogId } from "./ids.ts";
import { unwatch, watch, type Watched } from "./deadlines.ts";
import type { ResolvedGateway } from "../config/defaults.ts";
import type { ProviderDef } from "../providers/types.ts";
import { errorResponse, GatewayError } from "./errors.ts";
import type { Attempt, Metadata, RequestType } from "./record.ts";

/** One upstream call the request may make: provider-native requests have one, Universal requests N. */
export interface Step {
  provider: ProviderDef;
  /** Provider-relative path without a leading slash, e.g. `chat/completions`. */
  endpoint: string;
  /** Query string with its `?`, or "". */
  search: string;
  method: string;
  /** Headers sent upstream: the client's, minus hop-by-hop and every `cf-aig-*` header. */
  headers: Headers;
  /** `cf-aig-*` options given for this step alone (Universal step headers); they win over request headers. */
  options: Headers | null;
  body: Uint8Array | null;
}

export interface ContextInit {
  gateway: ResolvedGateway;
  accountId: string;
  requestType: RequestType;
  /** The client's request headers (for WebSocket messages, the session's). */
  headers: Headers;
  steps: Step[];
  clientAddress: string | null;
  /** When the gateway started on this request (performance.now()); defaults to now. */
  startedAt?: number;
  /** The client's own id for the request (a WebSocket frame's `eventId`); else its `cf-aig-event-id` header, else the log id. */
  eventId?: string;
  /**
   * Reads the first step's body when something first needs it (see `loadBody`), so refusals that
   * need no body (auth, rate limits) never read one. Absent when the steps carry their bodies.
   */
  body?: () => Promise<Uint8Array | null>;
}

/** Why a request was ended before its answer was complete. */
export type AbortReason = "client" | "shutdown";

const decoder = new TextDecoder();

/**
 * Everything the chain knows about one request. Transports build it; plugins read and annotate it;
 * the pipeline turns it into the request record when the response is over.
 */
export class RequestContext {
  readonly logId = newLogId();
  readonly eventId: string;
  readonly createdAt = Date.now();
  readonly startedAt: number;
  readonly gateway: ResolvedGateway;
  readonly accountId: string;
  readonly requestType: RequestType;
  readonly headers: Headers;
  readonly clientAddress: string | null;
  readonly steps: Step[];
  stepIndex = 0;
  /** Validated `cf-aig-metadata` (set by the metadata plugin). */
  metadata: Metadata = {};
  /** Id of the gateway token that authenticated the request (set by the auth plugin). */
  tokenId: string | null = null;
  cacheStatus: "HIT" | "MISS" = "MISS";
  /** Whether the record is kept, and with bodies (set by the logging plugin). */
  collectLog = true;
  collectPayload = true;
  #responseHeaders: Headers | null = null;
  #state: Map<string, unknown> | null = null;
  readonly attempts: Attempt[] = [];
  /** Time to the first byte of the answer, in ms since `startedAt`. */
  ttfbMs: number | null = null;
  /** Set when the gateway itself produced the answer. */
  gatewayError: { code: number; message: string } | null = null;
  /** Set once the request is ended early: the client left, or the gateway is stopping. */
  abortReason: AbortReason | null = null;
  /** Set once the answer is on its way to the client: from then on its body stream sees the client leave. */
  responding = false;
  /** Set once the answer was delivered, broke or was abandoned: ending the request then changes nothing. */
  delivered = false;
  /** Called once when the request's record is complete (frees what the transport held for it). */
  release: (() => void) | null = null;
  #captureBytes = 0;
  #json: { value: unknown } | null = null;
  #jsonStep = -1;
  #abort: AbortController | null = null;
  /** The upstream call in progress (see `upstreamCall`): ended directly by `abort`, no listener needed. */
  #upstream: AbortController | null = null;
  /** The sweep entry of `followClient`, dropped by `end` so a finished request is not kept alive until the next sweep. */
  #clientWatch: Watched | null = null;
  /** The client's HTTP request, once a transport asked to follow it. */
  #client: Request | null = null;
  #body: (() => Promise<Uint8Array | null>) | null;
  #bodyLoading: Promise<void> | null = null;

  constructor(init: ContextInit) {
    this.gateway = init.gateway;
    this.accountId = init.accountId;
    this.requestType = init.requestType;
    this.headers = init.headers;
    this.steps = init.steps;
    this.clientAddress = init.clientAddress;
    this.startedAt = init.startedAt ?? performance.now();
    this.eventId = init.eventId || init.headers.get("cf-aig-event-id") || this.logId;
    this.#body = init.body ?? null;
  }

  /** Extra headers for the client's response (e.g. RateLimit-*). Made on first use: most requests add none. */
  get responseHeaders(): Headers {
    return (this.#responseHeaders ??= new Headers());
  }

  /** The extra response headers, or null when no plugin added any. */
  get addedResponseHeaders(): Headers | null {
    return this.#responseHeaders;
  }

  /** Scratch space for plugins, keyed by plugin name by convention. */
  get state(): Map<string, unknown> {
    return (this.#state ??= new Map());
  }

  /** True while the body has not been read yet; `loadBody()` reads it. */
  get bodyPending(): boolean {
    return this.#body !== null;
  }

  /**
   * Reads the request body into `steps[0].body`, once. The chain calls it before the first plugin
   * that reads bodies (every plugin unless it declares `readsBody: false`) and before the upstream
   * call; a plugin that declared `readsBody: false` calls it itself when it turns out to need the body.
   */
  loadBody(): Promise<void> {
    const read = this.#body;
    if (read === null) return this.#bodyLoading ?? Promise.resolve();
    this.#body = null;
    this.#bodyLoading = read().then((bytes) => {
      this.steps[0].body = bytes;
    });
    return this.#bodyLoading;
  }

  /** Aborted when the request is ended early (`abortReason` says why); the upstream call listens to it. */
  get signal(): AbortSignal {
    if (!this.#abort) {
      this.#abort = new AbortController();
      if (this.abortReason !== null) this.#abort.abort(this.abortReason);
    }
    return this.#abort.signal;
  }

  /**
   * A controller for one upstream call, aborted by `abort` along with everything else. Only one call
   * runs at a time; a new one replaces the last. Cheaper than a controller that listens to `signal`:
   * one AbortController per attempt and no listener (a listener chain per request measured ~8 µs of
   * CPU under load, garbage collection included).
   */
  upstreamCall(): AbortController {
    const controller = new AbortController();
    if (this.abortReason !== null) controller.abort(this.abortReason);
    this.#upstream = controller;
    return controller;
  }

  /**
   * Ends the request when the client behind `request` leaves. The client's signal is looked at only
   * once the request is still running at the next deadline sweep (≤ 25 ms, see deadlines.ts): most
   * answers are out before then, and asking Bun for `request.signal` and listening to it costs every
   * request. A signal first looked at after the client left says so (`aborted`), so nothing is missed,
   * only noticed up to one sweep later.
   */
  followClient(request: Request): void {
    this.#client = request;
    this.#clientWatch = {
      check: () => {
        if (this.delivered || this.responding || this.abortReason !== null) return true;
        const signal = request.signal;
        if (signal.aborted) this.abort("client");
        else signal.addEventListener("abort", () => this.abort("client"), { once: true });
        return true;
      },
    };
    watch(this.#clientWatch);
  }

  /**
   * True when the client of an HTTP request has gone. Asked when an answer is complete before any sweep
   * looked at the client: reading `request.signal` costs next to nothing; listening to it is what costs.
   */
  get clientLeft(): boolean {
    return this.#client?.signal.aborted ?? false;
  }

  /** Called once the request's record is complete: stops following the client and frees what the transport held (`release`). */
  end(): void {
    if (this.#clientWatch) unwatch(this.#clientWatch);
    this.#clientWatch = null;
    this.release?.();
  }

  /** Ends the request early: the upstream call and the body stream are aborted. The first reason wins. */
  abort(reason: AbortReason): void {
    if (this.abortReason !== null || this.delivered) return;
    // Once the answer streams, a client that stops reading cancels the stream (deliver.ts decides whether it had it all).
    if (reason === "client" && this.responding) return;
    this.abortReason = reason;
    this.#abort?.abort(reason);
    this.#upstream?.abort(reason);
  }

  get gatewayId(): string {
    return this.gateway.id;
  }

  get step(): Step {
    return this.steps[this.stepIndex];
  }

  /** Slug of the current step's provider. */
  get provider(): string {
    return this.step.provider.slug;
  }

  /** The current step's body parsed as JSON, once; undefined when it is absent or not JSON. */
  json(): unknown {
    if (this.#jsonStep !== this.stepIndex) {
      this.#jsonStep = this.stepIndex;
      const body = this.step.body;
      let value: unknown;
      if (body && body.byteLength > 0) {
        try {
          value = JSON.parse(decoder.decode(body));
        } catch {
          value = undefined;
        }
      }
      this.#json = { value };
    }
    return this.#json!.value;
  }

  /** The model the current step asks for. */
  get model(): string | null {
    return this.step.provider.model(this.step.endpoint, this.json());
  }

  /** A `cf-aig-*` option: the step's own value wins over the request's. */
  option(name: string): string | null {
    return this.step.options?.get(name) ?? this.headers.get(name);
  }

  /**
   * Asks the pipeline to keep up to `bytes` of the response body for `onComplete` (record.response.body).
   * When no plugin asked (one answered before the logging layer could: a cache hit, a 401), the record
   * keeps the bodies the gateway read anyway, whole.
   */
  captureResponse(bytes: number): void {
    if (bytes > this.#captureBytes) this.#captureBytes = bytes;
  }

  get captureBytes(): number {
    return this.#captureBytes;
  }

  /** An AiGatewayError answer; the record notes that the gateway produced it. */
  error(status: number, code: number, message: string): Response {
    this.gatewayError = { code, message };
    return errorResponse(new GatewayError(status, code, message));
  }
}
