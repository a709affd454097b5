import { ErrorCode } from "../../pipeline/errors.ts";
import type { RecordObserver } from "../../pipeline/pipeline.ts";
import type { RequestRecord } from "../../pipeline/record.ts";
import { ExpositionWriter, labelText } from "./exposition.ts";
import { Histogram, LATENCY_BUCKETS } from "./histogram.ts";

/** Options of {@link RequestMetrics}. */
export interface RequestMetricsOptions {
  /** Gateway ids known at start, so `switchboard_rate_limited_total` shows them at 0 before their first refusal. @default [] */
  gateways?: Iterable<string>;
  /**
   * Distinct `switchboard_requests_total` label sets kept. Model names come from clients, so past this
   * a new model is counted as `model="other"` (and in `switchboard_metrics_folded_total`). @default 10000
   */
  maxSeries?: number;
  /** Longer model names are counted as `model="other"`. @default 200 */
  maxModelLength?: number;
}

/** Token and cost totals of one (gateway, provider, model). */
interface ModelTotals {
  labels: string;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
}

/** One (gateway, provider, model, status, cache) label set, holding the shared series it also feeds. */
interface Series {
  labels: string;
  requests: number;
  totals: ModelTotals;
  duration: LabeledHistogram;
  ttfb: LabeledHistogram;
}

interface LabeledHistogram {
  labels: string;
  histogram: Histogram;
}

export const OTHER_MODEL = "other";
const NO_MODEL = "unknown";

/**
 * The gateway's request metrics, counted in memory from each request's record and rendered in the
 * Prometheus text format on a scrape. Counting a record is one string key and one Map lookup in the
 * common case: each series holds the histograms and totals it also feeds, so those are found when the
 * series is made, not per request.
 *
 * @example
 * const metrics = new RequestMetrics({ gateways: config.gateways.keys() });
 * new Pipeline(plugins, terminal, logger, { observers: [metrics.observer] });
 * metrics.render(pipeline.inFlight); // "# HELP switchboard_requests_total …"
 */
export class RequestMetrics {
  readonly #series = new Map<string, Series>();
  readonly #totals = new Map<string, ModelTotals>();
  readonly #durations = new Map<string, LabeledHistogram>();
  readonly #ttfbs = new Map<string, LabeledHistogram>();
  readonly #rateLimited = new Map<string, number>();
  readonly #maxSeries: number;
  readonly #maxModelLength: number;
  #folded = 0;

  /** Hand this to the pipeline (`observers`): it counts every record. */
  readonly observer: RecordObserver = { name: "metrics", onComplete: (record) => this.observe(record) };

  constructor(options: RequestMetricsOptions = {}) {
    this.#maxSeries = options.maxSeries ?? 10_000;
    this.#maxModelLength = options.maxModelLength ?? 200;
    for (const gateway of options.gateways ?? []) this.#rateLimited.set(gateway, 0);
  }

  observe(record: RequestRecord): void {
    const { gatewayId: gateway, provider } = record;
    let model = record.model ?? NO_MODEL;
    if (model.length > this.#maxModelLength) model = OTHER_MODEL;
    const status = statusClass(record.status);
    const cache = record.cached ? "hit" : "miss";
    let series = this.#series.get(`${gateway}\0${provider}\0${model}\0${status}\0${cache}`);
    if (!series) {
      if (this.#series.size >= this.#maxSeries && model !== OTHER_MODEL) {
        model = OTHER_MODEL;
        this.#folded++;
      }
      series = this.#seriesOf(gateway, provider, model, status, cache);
    }
    series.requests++;
    series.duration.histogram.observe(record.durationMs / 1000);
    if (record.ttfbMs !== null) series.ttfb.histogram.observe(record.ttfbMs / 1000);
    const { usage, cost } = record;
    if (usage.tokensIn !== null) series.totals.tokensIn += usage.tokensIn;
    if (usage.tokensOut !== null) series.totals.tokensOut += usage.tokensOut;
    if (cost !== null) series.totals.costUsd += cost;
    if (record.error !== null && record.error.code === ErrorCode.RateLimited) this.#rateLimited.set(gateway, (this.#rateLimited.get(gateway) ?? 0) + 1);
  }

  /** The exposition of every metric; `inFlight` is the pipeline's requests in flight now. */
  render(inFlight: number): string {
    const out = new ExpositionWriter();
    out.metric("switchboard_requests_total", "counter", "Requests the gateway answered, by gateway, provider, model, status class and cache result.");
    for (const series of this.#series.values()) out.sample("switchboard_requests_total", series.labels, series.requests);
    out.metric("switchboard_request_duration_seconds", "histogram", "Time from a request's arrival to the end of its answer, streams included.");
    for (const { labels, histogram } of this.#durations.values()) {
      out.histogram("switchboard_request_duration_seconds", labels, histogram.bounds, histogram.cumulative(), histogram.sum);
    }
    out.metric("switchboard_time_to_first_byte_seconds", "histogram", "Time from a request's arrival to the first byte of the provider's (or the gateway's own) answer.");
    for (const { labels, histogram } of this.#ttfbs.values()) {
      out.histogram("switchboard_time_to_first_byte_seconds", labels, histogram.bounds, histogram.cumulative(), histogram.sum);
    }
    out.metric("switchboard_tokens_total", "counter", "Tokens the providers reported, prompt (in) and completion (out).");
    for (const totals of this.#totals.values()) {
      out.sample("switchboard_tokens_total", `${totals.labels},direction="in"`, totals.tokensIn);
      out.sample("switchboard_tokens_total", `${totals.labels},direction="out"`, totals.tokensOut);
    }
    out.metric("switchboard_cost_usd_total", "counter", "Cost of the requests in USD, for models with a known or custom price (cache hits cost 0).");
    for (const totals of this.#totals.values()) out.sample("switchboard_cost_usd_total", totals.labels, totals.costUsd);
    out.metric("switchboard_requests_in_flight", "gauge", "Requests running now, streams and realtime sessions included.");
    out.sample("switchboard_requests_in_flight", "", inFlight);
    out.metric("switchboard_rate_limited_total", "counter", "Requests refused by a rate-limit rule (error 2003).");
    for (const [gateway, count] of this.#rateLimited) out.sample("switchboard_rate_limited_total", labelText({ gateway }), count);
    out.metric("switchboard_metrics_folded_total", "counter", "Requests counted as model=\"other\" because the distinct label sets reached their cap.");
    out.sample("switchboard_metrics_folded_total", "", this.#folded);
    return out.text();
  }

  #seriesOf(gateway: string, provider: string, model: string, status: string, cache: string): Series {
    const key = `${gateway}\0${provider}\0${model}\0${status}\0${cache}`;
    const found = this.#series.get(key);
    if (found) return found;
    const series: Series = {
      labels: labelText({ gateway, provider, model, status, cache }),
      requests: 0,
      totals: lookup(this.#totals, `${gateway}\0${provider}\0${model}`, () => ({ labels: labelText({ gateway, provider, model }), tokensIn: 0, tokensOut: 0, costUsd: 0 })),
      duration: lookup(this.#durations, `${gateway}\0${provider}\0${status}\0${cache}`, () => labeledHistogram({ gateway, provider, status, cache })),
      ttfb: lookup(this.#ttfbs, `${gateway}\0${provider}`, () => labeledHistogram({ gateway, provider })),
    };
    this.#series.set(key, series);
    return series;
  }
}

/** `2xx`, `4xx`, …; a status outside 100–599 (none is expected) is `other`. */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "other";
}

function labeledHistogram(labels: Record<string, string>): LabeledHistogram {
  return { labels: labelText(labels), histogram: new Histogram(LATENCY_BUCKETS) };
}

function lookup<V>(map: Map<string, V>, key: string, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}
