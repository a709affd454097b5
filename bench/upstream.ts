/**
 * Mock OpenAI provider for `bun run bench` (see bench/run.ts).
 *
 *   bun bench/upstream.ts [--port 0] [--delay ms]
 *
 * POST /v1/chat/completions answers a fixed ~600-byte chat completion with usage, or, when the
 * request body contains `"stream":true`, a few SSE chunks ending with a usage chunk and [DONE].
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
const sseChunks: Uint8Array[] = [
  chunk({ role: "assistant", content: "", refusal: null }, null),
  chunk({ content: "Switchboard " }, null),
  chunk({ content: "benchmark " }, null),
  chunk({ content: "reply." }, null),
  chunk({}, "stop"),
  chunk({}, null, { prompt_tokens: 19, completion_tokens: 4, total_tokens: 23 }),
  enc.encode("data: [DONE]\n\n"),
];

const jsonHeaders = { "content-type": "application/json", "x-request-id": "req_bench", "openai-processing-ms": "1" };
const sseHeaders = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-request-id": "req_bench" };
const STREAM_MARK = enc.encode('"stream":true');

function hasStreamTrue(body: Uint8Array): boolean {
  // Byte search, so the mock spends no time in JSON.parse (clients we drive send compact JSON).
  const n = STREAM_MARK.length;
  outer: for (let i = 0; i + n <= body.length; i++) {
    for (let j = 0; j < n; j++) if (body[i + j] !== STREAM_MARK[j]) continue outer;
    return true;
  }
  return false;
}

function streamResponse(): Response {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < sseChunks.length) controller.enqueue(sseChunks[i++]!);
      if (i >= sseChunks.length) controller.close();
    },
  });
  return new Response(stream, { headers: sseHeaders });
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(values.port) || 0,
  async fetch(req) {
    const path = req.url.slice(req.url.indexOf("/", 8));
    if (req.method !== "POST" || path !== "/v1/chat/completions") {
      return new Response('{"error":{"message":"not found","type":"invalid_request_error"}}', {
        status: 404,
        headers: { "content-type": "application/json" },
      });
    }
    const body = new Uint8Array(await req.arrayBuffer());
    if (delay > 0) await Bun.sleep(delay);
    return hasStreamTrue(body) ? streamResponse() : new Response(completion, { headers: jsonHeaders });
  },
});

console.log(`listening on http://127.0.0.1:${server.port}`);
