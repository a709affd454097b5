import type { RecordObserver } from "../../pipeline/pipeline.ts";
import type { Health } from "../../pipeline/types.ts";
import { exportRequest, toSpan, type OtlpSpan } from "./span.ts";

/** Options of {@link SpanExporter} (`server.otel`, defaults filled in). */
export interface SpanExporterOptions {
  /** Collector base URL; spans go to `{endpoint}/v1/traces`. */
  endpoint: string;
  /** Sent with every export (a collector's API key); never logged. */
  headers: Record<string, string>;
  /** Spans per POST; a full batch is sent at once. */
  batchSize: number;
  /** ms between exports of a batch that is not full. */
  intervalMs: number;
  /** Spans waiting to be sent; past it new ones are dropped and counted. @default 10000 */
  maxQueue?: number;
  /** Time one export may take, in ms. @default 10000 */
  timeoutMs?: number;
}

/** Failures name the HTTP status as a code, so `GET /health` shows `HTTP_503`, never a body. */
class ExportFailed extends Error {
  override name = "ExportFailed";
  constructor(readonly code: string) {
    super(`the collector answered ${code}`);
  }
}

/**
 * Exports one OTLP span per request record to a collector over OTLP/HTTP JSON, in batches, off the
 * request path: spans wait in a bounded queue (dropped and counted past `maxQueue`), one export runs at
 * a time, a failed batch is counted and reported to `health` as `otel` (not retried: the queue must
 * not grow behind a collector that is down). `close()` sends what is left.
 *
 * @example
 * const otel = new SpanExporter({ endpoint: "http://localhost:4318", headers: {}, batchSize: 512, intervalMs: 5000 }, health);
 * new Pipeline(plugins, terminal, logger, { observers: [otel.observer] });
 * await otel.close(); // on stop
 */
export class SpanExporter {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #batchSize: number;
  readonly #maxQueue: number;
  readonly #timeoutMs: number;
  readonly #timer: ReturnType<typeof setInterval>;
  #queue: OtlpSpan[] = [];
  #sending: Promise<void> | null = null;
  readonly #stats = { exported: 0, dropped: 0, failed: 0 };

  /** Hand this to the pipeline (`observers`): it turns every record into a span. */
  readonly observer: RecordObserver = {
    name: "otel",
    onComplete: (record, ctx) => this.add(toSpan(record, ctx.headers.get("traceparent"))),
  };

  constructor(
    options: SpanExporterOptions,
    private readonly health: Health,
  ) {
    this.#url = new URL("v1/traces", options.endpoint.endsWith("/") ? options.endpoint : `${options.endpoint}/`).href;
    this.#headers = { ...options.headers, "content-type": "application/json" };
    this.#batchSize = options.batchSize;
    this.#maxQueue = options.maxQueue ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#timer = setInterval(() => this.#sendSoon(), options.intervalMs);
    this.#timer.unref();
    health.section("otel", () => ({ queued: this.#queue.length, ...this.#stats }));
  }

  /** Queues a span; sends at once when a batch is full. Never throws, never waits. */
  add(span: OtlpSpan): void {
    if (this.#queue.length >= this.#maxQueue) {
      this.#stats.dropped++;
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#batchSize) this.#sendSoon();
  }

  /** Stops the timer and sends every queued span (each export bounded by `timeoutMs`). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sending;
    while (this.#queue.length > 0) await this.#sendBatch();
  }

  #sendSoon(): void {
    if (this.#sending || this.#queue.length === 0) return;
    this.#sending = (async () => {
      // Whole batches while they keep filling up; a partial one waits for the next tick.
      do await this.#sendBatch();
      while (this.#queue.length >= this.#batchSize);
    })().finally(() => (this.#sending = null));
  }

  async #sendBatch(): Promise<void> {
    const batch = this.#queue.splice(0, this.#batchSize);
    if (batch.length === 0) return;
    try {
      const response = await fetch(this.#url, {
        method: "POST",
        headers: this.#headers,
        body: JSON.stringify(exportRequest(batch)),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      // Drain the body so the connection can be reused; its content (a partial-success note) is not needed.
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) throw new ExportFailed(`HTTP_${response.status}`);
      this.#stats.exported += batch.length;
      this.health.recovered("otel");
    } catch (error) {
      this.#stats.failed += batch.length;
      this.health.fault("otel", error, { during: "exporting spans" });
    }
  }
}
