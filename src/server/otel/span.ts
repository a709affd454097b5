import type { RequestRecord } from "../../pipeline/record.ts";
import { VERSION } from "../../version.ts";

/** An OTLP/JSON attribute value (int64 as a string, as the protobuf JSON mapping writes it). */
export type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean } | { doubleValue: number };

export interface KeyValue {
  key: string;
  value: AnyValue;
}

/** One span as OTLP/HTTP JSON carries it (`opentelemetry.proto.trace.v1.Span`). */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** 2 = SERVER: the gateway serves the client's request. */
  kind: 2;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  /** Present on failures only (code 2 = ERROR); a success leaves it unset, as the conventions ask. */
  status?: { code: 2; message: string };
}

/** What a W3C `traceparent` header says: the trace to join and the client's span, the parent of ours. */
export interface ParentContext {
  traceId: string;
  parentSpanId: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(?:-.*)?$/;

/**
 * Reads a W3C Trace Context `traceparent` header (`00-<trace-id>-<parent-id>-<flags>`), or null when it
 * is absent or invalid (version `ff`, all-zero ids, wrong lengths, upper case): the span then starts a trace.
 */
export function parseTraceparent(header: string | null): ParentContext | null {
  if (!header) return null;
  const match = TRACEPARENT.exec(header.trim());
  if (!match) return null;
  const [, version, traceId, parentSpanId] = match;
  // Version 00 has exactly four fields; a later version may add some, which a 00 reader ignores.
  if (version === "ff" || (version === "00" && header.trim().length !== 55)) return null;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentSpanId)) return null;
  return { traceId, parentSpanId };
}

/** `bytes` random bytes as lower-case hex (trace ids: 16, span ids: 8). */
export function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

/** Epoch ms to the decimal nanoseconds OTLP wants, without going past 2^53: µs are exact, the last three digits are 0. */
const nanos = (ms: number) => `${Math.round(ms * 1000)}000`;

const str = (key: string, value: string): KeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): KeyValue => ({ key, value: { intValue: String(Math.trunc(value)) } });

/** The `gen_ai.operation.name` a provider path stands for, as far as the common ones go. */
export function operationOf(path: string): string {
  if (/(^|\/)(chat\/completions|messages|responses)$/.test(path) || /:(stream)?generateContent$/i.test(path)) return "chat";
  if (/(^|\/)embeddings$|embedContents?$/i.test(path)) return "embeddings";
  if (/(^|\/)completions$/.test(path)) return "text_completion";
  return path.split("/").pop() || "request";
}

/**
 * The span of one request, with the GenAI semantic-convention attributes. Its ids are random, unless
 * the client sent a valid `traceparent`: then it joins that trace as a child of the client's span.
 */
export function toSpan(record: RequestRecord, traceparent: string | null): OtlpSpan {
  const parent = parseTraceparent(traceparent);
  const operation = operationOf(record.path);
  const attributes: KeyValue[] = [
    str("gen_ai.operation.name", operation),
    str("gen_ai.system", record.provider),
    int("http.response.status_code", record.status),
    str("switchboard.gateway", record.gatewayId),
    str("switchboard.log_id", record.logId),
    { key: "switchboard.cached", value: { boolValue: record.cached } },
  ];
  if (record.model !== null) attributes.push(str("gen_ai.request.model", record.model));
  if (record.usage.model) attributes.push(str("gen_ai.response.model", record.usage.model));
  if (record.usage.tokensIn !== null) attributes.push(int("gen_ai.usage.input_tokens", record.usage.tokensIn));
  if (record.usage.tokensOut !== null) attributes.push(int("gen_ai.usage.output_tokens", record.usage.tokensOut));
  if (record.cost !== null) attributes.push({ key: "switchboard.cost_usd", value: { doubleValue: record.cost } });
  if (record.error) attributes.push(str("error.type", String(record.error.code)));
  else if (!record.success) attributes.push(str("error.type", String(record.status)));
  const span: OtlpSpan = {
    traceId: parent?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    name: record.model ? `${operation} ${record.model}` : operation,
    kind: 2,
    startTimeUnixNano: nanos(record.createdAt),
    endTimeUnixNano: nanos(record.createdAt + record.durationMs),
    attributes,
  };
  if (parent) span.parentSpanId = parent.parentSpanId;
  if (!record.success) span.status = { code: 2, message: record.error?.message ?? `HTTP ${record.status}` };
  return span;
}

/** The body of `POST {endpoint}/v1/traces`: every span under one resource (`service.name: switchboard`) and one scope. */
export function exportRequest(spans: OtlpSpan[]) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [str("service.name", "switchboard"), str("service.version", VERSION)] },
        scopeSpans: [{ scope: { name: "switchboard", version: VERSION }, spans }],
      },
    ],
  };
}
