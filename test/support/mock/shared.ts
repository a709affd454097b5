/** Pieces the mock's provider modules share: the call they answer, token counting, JSON and SSE responses. */

/** The fixed assistant text every mock completion answers with; streams send it one word per delta. */
export const MOCK_REPLY = "Hello from the mock upstream.";
/** The arguments of every tool call the mock makes (it calls the first tool offered, until a tool result comes back). */
export const MOCK_TOOL_INPUT = { location: "Paris" };
/** The text an assistant turn carries before its tool call (Anthropic) — Claude often says something first. */
export const MOCK_TOOL_PREAMBLE = "Let me check.";
/** Prompt tokens added to the word count of a request, so an empty prompt still costs something. */
export const PROMPT_OVERHEAD = 3;
/** `created` of every OpenAI-shaped answer, fixed so whole objects compare with `toEqual`. */
export const MOCK_CREATED = 1_700_000_000;

export type Body = Record<string, unknown>;

/** A scripted hold on a stream, see `MockUpstream.holdStream()`. */
export interface Hold {
  /** Called once the chunks before the hold have been handed to the socket. */
  sent(): void;
  released: Promise<void>;
}

/** What a provider module needs to answer one request. */
export interface MockCall {
  /** Monotonic per server (not cleared by `reset()`), so two answers never share an id. */
  seq: number;
  body: Body;
  usage: MockUsage;
  /** `x-mock-break-after`: SSE events to send before the connection is destroyed. */
  breakAfter: number | undefined;
  /** Takes the oldest pending `holdStream()`; only streaming answers call it. */
  takeHold(): Hold | undefined;
}

export interface MockUsage {
  promptTokens: number;
  completionTokens: number;
  /** `x-mock-cached-tokens`: OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`. */
  cachedTokens: number;
  /** `x-mock-cache-creation-tokens`: Anthropic `cache_creation_input_tokens`. */
  cacheCreationTokens: number;
}

const words = (s: string) => s.split(/\s+/).filter(Boolean).length;

/** The text of a message, content part, input item or plain string, however deeply nested. */
function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(textOf).join(" ");
  if (value && typeof value === "object") {
    const v = value as Body;
    // Gemini keeps text in `parts`.
    return textOf(v.content ?? v.text ?? v.parts ?? "");
  }
  return "";
}

/**
 * The token counts the mock reports for a request body: prompt tokens are the words of
 * `messages`, `system`, `instructions`, `input` and `prompt` (Gemini: `systemInstruction`, `contents`) plus {@link PROMPT_OVERHEAD};
 * completion tokens are the words of {@link MOCK_REPLY}. Cache counts come from the
 * `x-mock-cached-tokens` / `x-mock-cache-creation-tokens` headers (0 without them).
 * For Anthropic they come on top of `input_tokens`, as in the real API; for OpenAI
 * `cached_tokens` is reported as given, as a part of `prompt_tokens`.
 * @example expectedUsage({ messages: [{ role: "user", content: "two words" }] }) // promptTokens 5, completionTokens 5
 */
export function expectedUsage(body: unknown, headers: { cachedTokens?: number; cacheCreationTokens?: number } = {}): MockUsage {
  const b = (body && typeof body === "object" ? body : {}) as Body;
  const prompt = ["system", "instructions", "messages", "input", "prompt", "systemInstruction", "contents"].map((k) => textOf(b[k])).join(" ");
  return {
    promptTokens: words(prompt) + PROMPT_OVERHEAD,
    completionTokens: words(MOCK_REPLY),
    cachedTokens: headers.cachedTokens ?? 0,
    cacheCreationTokens: headers.cacheCreationTokens ?? 0,
  };
}

/** {@link MOCK_REPLY} as stream deltas: "Hello", " from", " the", … */
export function replyDeltas(): string[] {
  return MOCK_REPLY.split(" ").map((w, i) => (i === 0 ? w : ` ${w}`));
}

export function modelOf(body: Body, fallback = "mock-model"): string {
  return typeof body.model === "string" ? body.model : fallback;
}

export function json(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return Response.json(value, { status, headers });
}

/** One SSE event as it goes on the wire; `event` adds the `event:` line. */
export function sseEvent(data: unknown, event?: string): string {
  const payload = typeof data === "string" ? data : JSON.stringify(data);
  return `${event ? `event: ${event}\n` : ""}data: ${payload}\n\n`;
}

const encoder = new TextEncoder();
/** A macrotask turn: Bun writes what was enqueued so far to the socket before this resolves. */
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 1));
/**
 * How long a broken stream lets its last chunks reach the client before the connection dies.
 * Destroying the socket right after `enqueue` drops bytes Bun has not written yet (measured:
 * ~1 in 5 runs lost chunks with a bare `setImmediate`, none with a timer), so the break waits.
 */
const BREAK_GRACE_MS = 10;

/**
 * A `text/event-stream` answer sending `events` one network write at a time.
 * `holdAfter` is how many events go out before a pending `holdStream()` holds the rest
 * (the provider passes "through the first text delta"); `call.breakAfter` ends the stream with
 * a destroyed connection after that many events — 0 resets it before the status line.
 */
export function sseResponse(call: MockCall, events: string[], holdAfter: number): Response {
  const hold = call.takeHold();
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (call.breakAfter !== undefined && sent >= call.breakAfter) {
        if (sent > 0) await new Promise((r) => setTimeout(r, BREAK_GRACE_MS));
        // No reason on purpose: Bun prints an Error given to `error()`, and a bare call resets silently.
        controller.error();
        return;
      }
      if (sent >= events.length) return controller.close();
      controller.enqueue(encoder.encode(events[sent++]));
      await nextTurn();
      if (hold && sent === Math.min(holdAfter, events.length)) {
        hold.sent();
        await hold.released;
      }
    },
  });
  return new Response(stream, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
  });
}

/** An answer that never is: the connection closes before a status line, so `fetch` rejects. */
export function connectionReset(): Response {
  return new Response(new ReadableStream({ start: (controller) => controller.error() }));
}
