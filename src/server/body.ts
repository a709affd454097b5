import { watch, unwatch, type Watched } from "../pipeline/deadlines.ts";
import { ErrorCode, GatewayError, requestEnded } from "../pipeline/errors.ts";

/** How request bodies are bounded: size, arrival rate, and memory across connections. */
export interface BodyLimits {
  /** Largest body, in bytes (`server.maxBodyBytes`). */
  maxBytes: number;
  /** Slowest arrival, in bytes per second over each window; 0 turns it off (`server.minBodyRate`). */
  minRate: number;
  /** The window `minRate` is measured over, in ms (`server.bodyRateWindow`). */
  rateWindowMs: number;
}

/**
 * Bytes of request bodies held in memory at once, across every connection (`server.bodyMemoryBytes`).
 * A body reserves its bytes before it is read (its Content-Length, or chunk by chunk) and gives them
 * back when its request's record is complete.
 */
export class BodyBudget {
  #held = 0;
  constructor(readonly limit: number) {}

  get held(): number {
    return this.#held;
  }

  /** Takes `bytes` when they fit under the limit; false (and nothing taken) otherwise. */
  reserve(bytes: number): boolean {
    if (this.#held + bytes > this.limit) return false;
    this.#held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
  }
}

/** Bodies of at most this many declared bytes are read in one call; larger or undeclared ones chunk by chunk. */
const SMALL_BODY = 64 * 1024;
/** First size of the buffer for a body of unknown length; it grows in place (a resizable ArrayBuffer). */
const FIRST_CHUNKED_SIZE = 64 * 1024;

/** The Content-Length a request declares, or null; 413 when it is over the limit (nothing is read). */
export function declaredLength(request: Request, maxBytes: number): number | null {
  const header = request.headers.get("content-length");
  if (header === null) return null;
  const length = Number(header);
  if (length > maxBytes) throw tooLarge(length, maxBytes);
  return length;
}

/**
 * One request's body, read at most once, when the chain first needs it. It is held once (one buffer,
 * filled as chunks arrive), counted against the shared budget until `release()`, refused with 413
 * past the size limit, with 408 when it arrives slower than the rate limit, and with 503 when the
 * budget is spent. The client leaving (`signal`) ends the read.
 */
export class RequestBody {
  #reserved = 0;
  #released = false;

  constructor(
    private readonly request: Request,
    private readonly declared: number | null,
    private readonly limits: BodyLimits,
    private readonly budget: BodyBudget,
  ) {}

  /** Reads the body; `owner.signal` (read only for large bodies: making it costs) ends the read when the request ends. */
  async read(owner: { readonly signal: AbortSignal }): Promise<Uint8Array | null> {
    if (!this.request.body || this.declared === 0) return null;
    if (this.declared !== null) this.#reserve(this.declared);
    const { promise: stopped, reject } = Promise.withResolvers<never>();
    const guard = this.#guard(reject);
    // A small body is bounded by its rate deadline alone; a large one also ends when the request does.
    const small = this.declared !== null && this.declared <= SMALL_BODY;
    const signal = small ? null : owner.signal;
    const onAbort = signal ? () => reject(ended(signal)) : null;
    if (signal && onAbort) signal.addEventListener("abort", onAbort, { once: true });
    try {
      if (small) {
        const bytes = new Uint8Array(await Promise.race([this.request.arrayBuffer(), stopped]));
        return bytes.byteLength > 0 ? bytes : null;
      }
      return await this.#stream(guard, stopped);
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      if (owner.signal.aborted) throw ended(owner.signal);
      // The client left before the request was watching it (see RequestContext.followClient): its signal says so now.
      if (this.request.signal.aborted) throw requestEnded("client", "while the request body was arriving");
      throw new GatewayError(400, ErrorCode.BadRequest, "The request body could not be read to its end", { cause: error });
    } finally {
      if (guard) unwatch(guard);
      if (signal && onAbort) signal.removeEventListener("abort", onAbort);
    }
  }

  /** Gives the body's bytes back to the budget; called once the request's record is complete. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.budget.release(this.#reserved);
  }

  async #stream(guard: RateGuard | null, stopped: Promise<never>): Promise<Uint8Array | null> {
    const { maxBytes } = this.limits;
    const reader = this.request.body!.getReader();
    stopped.catch(() => reader.cancel().catch(() => {}));
    const buffer = this.declared !== null ? new ArrayBuffer(this.declared) : this.#growable();
    let bytes = new Uint8Array(buffer);
    let size = 0;
    for (;;) {
      const chunk = await Promise.race([reader.read(), stopped]);
      if (chunk.done) break;
      const end = size + chunk.value.byteLength;
      if (end > maxBytes) {
        reader.cancel().catch(() => {});
        throw tooLarge(end, maxBytes);
      }
      if (end > buffer.byteLength) {
        // Only a body of unknown length grows; HTTP framing keeps a declared one to its length.
        const capacity = Math.min(maxBytes, Math.max(end, buffer.byteLength * 2));
        this.#reserve(capacity - this.#reserved);
        buffer.resize(capacity);
        bytes = new Uint8Array(buffer);
      }
      bytes.set(chunk.value, size);
      size = end;
      if (guard) guard.received += chunk.value.byteLength;
    }
    return size === 0 ? null : bytes.subarray(0, size);
  }

  /** A buffer for a body of unknown length: reserved and allocated in steps, grown in place up to the limit. */
  #growable(): ArrayBuffer {
    const first = Math.min(FIRST_CHUNKED_SIZE, this.limits.maxBytes);
    this.#reserve(first);
    return new ArrayBuffer(first, { maxByteLength: this.limits.maxBytes });
  }

  #reserve(bytes: number): void {
    if (!this.budget.reserve(bytes)) {
      throw new GatewayError(503, ErrorCode.Busy, `The gateway holds as many request bodies as server.bodyMemoryBytes (${this.budget.limit} bytes) allows; retry shortly`, {
        headers: { "retry-after": "1" },
      });
    }
    this.#reserved += bytes;
  }

  /** Watches the arrival rate; null when the rate limit is off. */
  #guard(reject: (error: GatewayError) => void): RateGuard | null {
    const { minRate, rateWindowMs } = this.limits;
    if (minRate <= 0) return null;
    const guard = new RateGuard(minRate, rateWindowMs, this.declared !== null && this.declared <= SMALL_BODY ? this.declared : null, () =>
      reject(
        new GatewayError(408, ErrorCode.BodyTooSlow, `The request body arrived slower than server.minBodyRate (${minRate} bytes/s over ${rateWindowMs} ms)`, {
          headers: { connection: "close" },
        }),
      ),
    );
    watch(guard);
    return guard;
  }
}

/**
 * Cuts a body that brings fewer than `minRate × window` bytes in any window. A small body read in one
 * call cannot be counted as it arrives: it simply gets one window plus the time its size needs.
 */
class RateGuard implements Watched {
  received = 0;
  #windowStart = performance.now();
  #windowReceived = 0;
  readonly #deadline: number | null;

  constructor(
    private readonly minRate: number,
    private readonly windowMs: number,
    wholeBytes: number | null,
    private readonly onSlow: () => void,
  ) {
    this.#deadline = wholeBytes === null ? null : this.#windowStart + windowMs + (wholeBytes / minRate) * 1000;
  }

  check(now: number): boolean {
    if (this.#deadline !== null) {
      if (now < this.#deadline) return false;
      this.onSlow();
      return true;
    }
    if (now - this.#windowStart < this.windowMs) return false;
    if (this.received - this.#windowReceived < (this.minRate * (now - this.#windowStart)) / 1000) {
      this.onSlow();
      return true;
    }
    this.#windowStart = now;
    this.#windowReceived = this.received;
    return false;
  }
}

/** Why the read stopped when the request was ended: the gateway stopping, or the client leaving. */
function ended(signal: AbortSignal): GatewayError {
  return requestEnded(signal.reason === "shutdown" ? "shutdown" : "client", "while the request body was arriving");
}

function tooLarge(size: number, limit: number): GatewayError {
  return new GatewayError(413, ErrorCode.BodyTooLarge, `Request body is larger than the gateway's limit of ${limit} bytes (server.maxBodyBytes); got at least ${size} bytes`);
}
