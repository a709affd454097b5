import { compose, type Chain, type ComposeOptions, type Terminal } from "./compose.ts";
import type { AbortReason, RequestContext } from "./context.ts";
import { deliver, type Outcome } from "./deliver.ts";
import { ErrorCode, errorResponse, GatewayError, requestEnded, toGatewayError } from "./errors.ts";
import { buildRecord } from "./build-record.ts";
import type { RequestRecord } from "./record.ts";
import type { Logger, Plugin } from "./types.ts";

/** A built-in consumer of every record that is not a plugin (metrics, tracing): no `handle`, never in the chain. */
export interface RecordObserver {
  /** Named when its `onComplete` fails. */
  name: string;
  /** Runs off the request path, before the plugins' `onComplete`, so it sees the record as built. Keep it cheap and synchronous. */
  onComplete(record: RequestRecord, ctx: RequestContext): void;
}

export interface PipelineOptions extends ComposeOptions {
  /** Always handed each record, even when no plugin has an `onComplete`. @default [] */
  observers?: readonly RecordObserver[];
}

/**
 * The request path shared by every transport: chain → terminal → delivery → record → onComplete.
 * It also counts requests in flight so a graceful stop can wait for them.
 */
export class Pipeline {
  readonly #chain: Chain;
  readonly #completers: (RecordObserver | Plugin)[];
  /** Requests between `run` and the end of their record, so a stop can wait for them or end them. */
  readonly #live = new Set<RequestContext>();
  #idle: PromiseWithResolvers<void> | null = null;
  /** Finished requests whose records are built together in one macrotask, after the responses went out. */
  #finished: [RequestContext, Outcome][] = [];

  constructor(
    readonly plugins: readonly Plugin[],
    private readonly terminal: Terminal,
    private readonly logger: Logger,
    options: PipelineOptions = {},
  ) {
    this.#chain = compose(plugins, options);
    this.#completers = [...(options.observers ?? []), ...plugins.filter((plugin) => typeof plugin.onComplete === "function")];
  }

  async run(ctx: RequestContext): Promise<Response> {
    this.#live.add(ctx);
    let response: Response;
    try {
      response = await this.#chain(ctx, this.terminal);
    } catch (error) {
      response = this.#fail(ctx, error);
    }
    const finish = (outcome: Outcome) => this.#finish(ctx, outcome);
    try {
      return await deliver(ctx, response, finish);
    } catch (error) {
      // The provider's body broke while it was being read whole: answer honestly, not with half a body.
      return deliver(ctx, this.#fail(ctx, error), finish);
    }
  }

  /** Resolves once every request in flight has completed and its record was handed on. */
  drain(): Promise<void> {
    if (this.#live.size === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  /**
   * Counts a request that does not run through the chain (a realtime relay session) as in flight: a
   * graceful stop waits for it, and `abortAll` ends it through `ctx.signal`. Call the returned function
   * with how it went; its record is then built and handed to every `onComplete` exactly as a chain
   * request's is. Later calls are ignored.
   */
  track(ctx: RequestContext): (outcome: Outcome) => void {
    this.#live.add(ctx);
    let finished = false;
    return (outcome) => {
      if (finished) return;
      finished = true;
      this.#finish(ctx, outcome);
    };
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.#live.size;
  }

  /** Ends every request in flight (upstream calls and streams are aborted); their records say why. */
  abortAll(reason: AbortReason): void {
    for (const ctx of this.#live) ctx.abort(reason);
  }

  #fail(ctx: RequestContext, error: unknown): Response {
    // Whatever broke after the request was ended (an AbortError from a body read) is that ending, not a bug.
    const gatewayError = ctx.abortReason && !(error instanceof GatewayError) ? requestEnded(ctx.abortReason, "before the answer was complete", error) : toGatewayError(error);
    // Only failures that are the gateway's own bugs get a stack; refusals and timeouts are answers, not incidents.
    if (gatewayError.code === ErrorCode.Internal || gatewayError.code === ErrorCode.PluginFailed) {
      this.logger.error(`request ${ctx.logId} failed: ${gatewayError.message}`, gatewayError.cause ?? error);
    } else if (gatewayError.code === ErrorCode.PluginTimeout) {
      this.logger.warn(`request ${ctx.logId}: ${gatewayError.message}`);
    }
    ctx.gatewayError = { code: gatewayError.code, message: gatewayError.message };
    // Headers the refusal carries (Retry-After, Connection: close) reach the client through the context:
    // delivery strips hop-by-hop headers from what the chain returns.
    if (gatewayError.headers) for (const [name, value] of Object.entries(gatewayError.headers)) ctx.responseHeaders.set(name, value);
    return errorResponse(gatewayError);
  }

  #finish(ctx: RequestContext, outcome: Outcome): void {
    ctx.delivered = true;
    if (this.#finished.push([ctx, outcome]) === 1) setImmediate(() => this.#completeFinished());
  }

  #completeFinished(): void {
    const finished = this.#finished;
    this.#finished = [];
    for (const [ctx, outcome] of finished) {
      this.#complete(ctx, outcome);
      this.#live.delete(ctx);
      ctx.end();
    }
    if (this.#live.size === 0 && this.#idle) {
      this.#idle.resolve();
      this.#idle = null;
    }
  }

  #complete(ctx: RequestContext, outcome: Outcome): void {
    // Nobody to hand a record to (a chain without logging or other onComplete): build none.
    if (this.#completers.length === 0) return;
    let record: RequestRecord;
    try {
      record = buildRecord(ctx, outcome);
    } catch (error) {
      this.logger.error(`could not build the record of ${ctx.logId}`, error);
      return;
    }
    for (const plugin of this.#completers) {
      try {
        const result = plugin.onComplete!(record, ctx);
        if (result instanceof Promise) result.catch((error) => this.logger.error(`plugin "${plugin.name}" onComplete failed`, error));
      } catch (error) {
        this.logger.error(`plugin "${plugin.name}" onComplete failed`, error);
      }
    }
  }
}
