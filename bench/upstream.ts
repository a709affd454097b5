/**
 * Mock OpenAI provider for `bun run bench` (see bench/run.ts).
 *
 *   bun bench/upstream.ts [--port 0] [--delay ms]
 *
 * POST /v1/chat/completions answers a fixed ~650-byte chat completion with usage, or, when the
 * request body contains `"stream":true`, SSE events: a role chunk, content chunks, a stop chunk, a
 * usage chunk and `data: [DONE]` — 7 events in all (3 content chunks), unless the body also contains
 * `sse-events=N` (e.g. in the user message, which every gateway passes on as is): then exactly N
 * events (N − 4 content chunks, N from 5 to 1000), and the mock waits one turn of its event loop
 * (setImmediate) after each, so each event leaves in its own write, as from a model that streams —
 * the default stream is enqueued without waiting and usually leaves in one write. bench/targets.ts's
 * streaming targets ask for 20. Answers are built once per event count and reused.
 * `--delay` waits that many ms before the response starts (0 = answer at once, a CPU-cost test).
 * Prints `listening on http://127.0.0.1:PORT` on stdout once ready. Binds loopback only.
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { port: { type: "string", default: "0" }, delay: { type: "string", default: "0" } },
});
const delay = Math.max(0, Number(values.delay) || 0);

const enc = new TextEncoder();
const created = 1_700_000_000;
const model = "gpt-4o-mini-2024-07-18";

// One body, built once and reused for every response.
const completion = enc.encode(
  JSON.stringify({
    id: "chatcmpl-bench0000000000000000000000000",
    object: "chat.completion",
    created,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content:
            "Switchboard benchmark reply. This text is fixed so that every response has the same size and the gateway does the same work each time.",
          refusal: null,
        },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage: {
      prompt_tokens: 19,
      completion_tokens: 27,
      total_tokens: 46,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
    },
    service_tier: "default",
    system_fingerprint: "fp_bench00000",
  }),
);

const chunk = (delta: object, finish: string | null, usage: object | null = null) =>
  enc.encode(
    `data: ${JSON.stringify({
      id: "chatcmpl-bench0000000000000000000000000",
      object: "chat.completion.chunk",
      created,
      model,
      system_fingerprint: "fp_bench00000",
      choices: usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      usage,
    })}\n\n`,
  );
/** The default stream (no `sse-events=N` in the request): 7 events, 3 of them content. */
const sseChunks: Uint8Array[] = [
  chunk({ role: "assistant", content: "", refusal: null }, null),
  chunk({ content: "Switchboard " }, null),
  chunk({ content: "benchmark " }, null),
  chunk({ content: "reply." }, null),
  chunk({}, "stop"),
  chunk({}, null, { prompt_tokens: 19, completion_tokens: 4, total_tokens: 23 }),
  enc.encode("data: [DONE]\n\n"),
];
const WORDS = "Switchboard benchmark reply. This text is fixed so that every response has the same size and the gateway does the same work each time.".split(" ");
const MIN_EVENTS = 5;
const MAX_EVENTS = 1000;
const sseByCount = new Map<number, Uint8Array[]>([[sseChunks.length, sseChunks]]);
/** Exactly `events` SSE events: role, events − 4 content chunks (words of the fixed reply), stop, usage, [DONE]. */
function sseAnswer(events: number): Uint8Array[] {
  let out = sseByCount.get(events);
  if (out) return out;
  const pieces = events - 4;
  out = [chunk({ role: "assistant", content: "", refusal: null }, null)];
  for (let i = 0; i < pieces; i++) out.push(chunk({ content: WORDS[i % WORDS.length] + (i < pieces - 1 ? " " : "") }, null));
  out.push(chunk({}, "stop"), chunk({}, null, { prompt_tokens: 19, completion_tokens: pieces + 1, total_tokens: 20 + pieces }));
  out.push(enc.encode("data: [DONE]\n\n"));
  if (out.length !== events) throw new Error(`upstream: built ${out.length} events, not ${events}`);
  sseByCount.set(events, out);
  return out;
}

const jsonHeaders = { "content-type": "application/json", "x-request-id": "req_bench", "openai-processing-ms": "1" };
const sseHeaders = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-request-id": "req_bench" };
const STREAM_MARK = enc.encode('"stream":true');
const EVENTS_MARK = enc.encode("sse-events=");

/** Where `mark` starts in `body`, or -1. */
function find(body: Uint8Array, mark: Uint8Array): number {
  // Byte search, so the mock spends no time in JSON.parse (clients we drive send compact JSON).
  const n = mark.length;
  outer: for (let i = 0; i + n <= body.length; i++) {
    for (let j = 0; j < n; j++) if (body[i + j] !== mark[j]) continue outer;
    return i;
  }
  return -1;
}
const hasStreamTrue = (body: Uint8Array) => find(body, STREAM_MARK) >= 0;

/** N from `sse-events=N` in the body, clamped to MIN_EVENTS..MAX_EVENTS; null without it. */
function eventsAsked(body: Uint8Array): number | null {
  const at = find(body, EVENTS_MARK);
  if (at < 0) return null;
  let n = 0;
  for (let i = at + EVENTS_MARK.length; i < body.length && body[i]! >= 48 && body[i]! <= 57 && n <= MAX_EVENTS; i++) n = n * 10 + body[i]! - 48;
  return Math.min(MAX_EVENTS, Math.max(MIN_EVENTS, n));
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/** `apart`: wait a turn of the event loop after each event, so each goes out in its own write. */
function streamResponse(events: Uint8Array[], apart = false): Response {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < events.length) controller.enqueue(events[i++]!);
      if (i >= events.length) controller.close();
      else if (apart) return nextTurn();
    },
  });
  return new Response(stream, { headers: sseHeaders });
}

/** An OpenAI embeddings answer whose vector depends on the input text (a few non-zero dimensions from its hash). */
function embedding(body: string) {
  const vector = new Array<number>(256).fill(0);
  let hash = Number(Bun.hash(body) % 0xffffffffn);
  for (let i = 0; i < 4; i++, hash = Math.imul(hash ^ (hash >>> 13), 0x5bd1e995) >>> 0) vector[hash % 256] = 1;
  return { object: "list", data: [{ object: "embedding", index: 0, embedding: vector }], model: "text-embedding-3-small", usage: { prompt_tokens: 8, total_tokens: 8 } };
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(values.port) || 0,
  async fetch(req) {
    const path = req.url.slice(req.url.indexOf("/", 8));
    // For the semantic cache's target: a fixed 256-dimension embedding per input, never similar to another's.
    if (req.method === "POST" && path === "/v1/embeddings") return Response.json(embedding(await req.text()));
    if (req.method !== "POST" || path !== "/v1/chat/completions") {
      return new Response('{"error":{"message":"not found","type":"invalid_request_error"}}', {
        status: 404,
        headers: { "content-type": "application/json" },
      });
    }
    const body = new Uint8Array(await req.arrayBuffer());
    if (delay > 0) await Bun.sleep(delay);
    if (!hasStreamTrue(body)) return new Response(completion, { headers: jsonHeaders });
    // The default stream goes out as it always did; an `sse-events=N` one event per write.
    const events = eventsAsked(body);
    return events === null ? streamResponse(sseChunks) : streamResponse(sseAnswer(events), true);
  },
});

console.log(`listening on http://127.0.0.1:${server.port}`);
