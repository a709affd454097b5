/**
 * What the bench sends: the request bodies (the plain one streams under `--stream`) and the headers
 * every target gets.
 */
import { settings } from "./args.ts";
import type { Target } from "./targets.ts";

export const BODY = JSON.stringify({
  model: "gpt-4o-mini",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Say hello to the benchmark in one short sentence." },
  ],
  max_tokens: 32,
  ...(settings.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
});
/** Events in the answer to a `stream` target's request (role, content chunks, stop, usage, [DONE]). */
export const STREAM_EVENTS = 20;
/**
 * The `stream` targets' body: BODY streaming, with `sse-events=20` in the user message, which the
 * mock reads (bench/upstream.ts) and every proxy passes on as is: exactly 20 events, one per write.
 */
export const STREAM_BODY = JSON.stringify({
  ...JSON.parse(BODY),
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: `Say hello to the benchmark in one short sentence. [sse-events=${STREAM_EVENTS}]` },
  ],
  stream: true,
  stream_options: { include_usage: true },
});
/** For `unique` targets: the same request with `{{n}}`, which load.ts replaces per request. */
export const UNIQUE_BODY = BODY.replace("in one short sentence.", "in one short sentence. #{{n}}");
if (UNIQUE_BODY === BODY) throw new Error("bench: UNIQUE_BODY has no {{n}}");
/**
 * The Universal target's body: two steps, the first of which answers, each carrying BODY as its query
 * and the provider key as a step header (the Universal call's own headers do not reach providers).
 */
export const UNIVERSAL_BODY = JSON.stringify(
  ["openai", "openai"].map((provider) => ({ provider, endpoint: "chat/completions", headers: { authorization: "Bearer sk-bench" }, query: JSON.parse(BODY) })),
);
/** The WebSocket target's step: load.ts wraps it in a `universal.create` frame with its own eventId. */
export const WS_STEP = JSON.stringify({ provider: "openai", endpoint: "chat/completions", headers: { authorization: "Bearer sk-bench" }, query: JSON.parse(BODY) });
/** Sent by every target, besides the target's own `headers`. */
export const HEADERS = ["authorization: Bearer sk-bench"];

/** The body a target sends. */
export const bodyOf = (t: Target) => (t.unique ? UNIQUE_BODY : t.stream ? STREAM_BODY : (t.body ?? BODY));
/** Whether load.ts times the first body byte for this target. */
export const timesTtfb = (t: Target) => !t.websocket && (!!t.stream || settings.stream);

/** HEADERS as an object, with the target's and the running instance's own (for fetch). */
export function requestHeaders(...extra: (Record<string, string> | undefined)[]): Record<string, string> {
  const headers: Record<string, string> = Object.assign({ "content-type": "application/json" }, ...extra);
  for (const h of HEADERS) headers[h.slice(0, h.indexOf(":"))] = h.slice(h.indexOf(":") + 1).trim();
  return headers;
}
