/**
 * A stand-in OTLP/HTTP collector: `Bun.serve({ port: 0 })` that records every `POST /v1/traces`
 * and answers `status` (200 by default). Wait on `received(n)`, never on time.
 *
 * @example
 * await using collector = await startCollector();
 * // gateway config: server: { otel: { endpoint: collector.url, batchSize: 1 } }
 * const [span] = (await collector.received(1)).flatMap(spansOf);
 */
export interface ExportRequest {
  path: string;
  headers: Record<string, string>;
  body: { resourceSpans: { resource: { attributes: Attribute[] }; scopeSpans: { scope: { name: string }; spans: Span[] }[] }[] };
}

export interface Attribute {
  key: string;
  value: { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number };
}

export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attribute[];
  status?: { code: number; message?: string };
}

export interface Collector extends AsyncDisposable {
  url: string;
  requests: ExportRequest[];
  /** Resolves with the first `n` export requests once that many arrived. */
  received(n: number): Promise<ExportRequest[]>;
  stop(): Promise<void>;
}

export async function startCollector(options: { status?: number } = {}): Promise<Collector> {
  const requests: ExportRequest[] = [];
  const waiters: { n: number; resolve: (requests: ExportRequest[]) => void }[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const path = new URL(request.url).pathname;
      requests.push({ path, headers: Object.fromEntries(request.headers), body: (await request.json()) as ExportRequest["body"] });
      for (const waiter of waiters.filter((w) => requests.length >= w.n)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(requests.slice(0, waiter.n));
      }
      return new Response(options.status && options.status >= 400 ? "collector down" : "{}", { status: options.status ?? 200 });
    },
  });
  const stop = () => server.stop(true);
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    received(n) {
      if (requests.length >= n) return Promise.resolve(requests.slice(0, n));
      const { promise, resolve } = Promise.withResolvers<ExportRequest[]>();
      waiters.push({ n, resolve });
      return promise;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

export const spansOf = (request: ExportRequest): Span[] => request.body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));

/** A span's attributes as a plain object (int64 strings left as strings). */
export function attributesOf(span: Span): Record<string, string | boolean | number | undefined> {
  return Object.fromEntries(span.attributes.map(({ key, value }) => [key, value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue]));
}
