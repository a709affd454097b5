import { SseParser } from "../upstream/sse.ts";

/** Turns one provider's SSE events into OpenAI chunk payloads. */
export interface EventTranslator {
  /** One upstream event → the payloads to send as `data:` lines, in order (often none). */
  event(name: string | null, data: string): object[];
  /** The upstream stream ended cleanly → the last payloads (finish, usage). `data: [DONE]` follows them. */
  end(): object[];
  /**
   * Were the stream to end now: why the answer would not be whole (its final event has not come, or
   * it carried an error), else null. `end()` tells the client; this tells the record. Never throws.
   * @example incomplete() // "ended before its final event (message_stop)"
   */
  incomplete(): string | null;
  /** A provider's error event payload → OpenAI's error body. */
  error(data: unknown): object;
}

const encoder = new TextEncoder();
const frame = (payload: object) => `data: ${JSON.stringify(payload)}\n\n`;

/** A provider's event stream as the client gets it, and what the translator made of its end. */
export interface TranslatedSse {
  body: ReadableStream<Uint8Array>;
  /**
   * Once the provider's stream ended cleanly and every chunk before that end was read (delivery's end
   * judge): why the answer is not whole — it passed on an error event, or its final event never
   * came — or null. Never throws.
   */
  incomplete(): string | null;
}

/**
 * The client's OpenAI event stream, translated from the provider's as it arrives (one upstream read,
 * one write; nothing is buffered beyond one partial event). An `event: error` is passed on as one:
 * the gateway's own AiGatewayError envelope untouched, a provider's translated to OpenAI's error
 * body; the `openai` client raises on it, and nothing after it is translated. When the upstream
 * stream breaks, the client's stream breaks too, never ending cleanly. Cancelling it cancels the
 * provider's stream (delivery then records whether the answer was whole).
 */
export function translateSse(body: ReadableStream<Uint8Array>, translator: EventTranslator): TranslatedSse {
  const reader = body.getReader();
  let pending: string[] = [];
  let failed = false;
  const parser = new SseParser((name, data) => {
    if (failed) return;
    if (name === "error") {
      failed = true;
      pending.push(`event: error\ndata: ${errorData(data, translator)}\n\n`);
      return;
    }
    try {
      for (const payload of translator.event(name, data)) pending.push(frame(payload));
    } catch {
      // A malformed provider event is dropped; it must never break the client's stream.
    }
  });
  const take = () => {
    const text = pending.join("");
    pending = [];
    return encoder.encode(text);
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          let chunk: Awaited<ReturnType<typeof reader.read>>;
          try {
            chunk = await reader.read();
          } catch {
            // No reason on purpose: Bun prints any reason given to stderr (see deliver.ts).
            controller.error();
            return;
          }
          if (chunk.done) {
            parser.end();
            if (!failed) {
              for (const payload of translator.end()) pending.push(frame(payload));
              pending.push("data: [DONE]\n\n");
            }
            if (pending.length > 0) controller.enqueue(take());
            controller.close();
            return;
          }
          parser.feed(chunk.value);
          if (pending.length > 0) {
            controller.enqueue(take());
            return;
          }
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return {
    body: stream,
    incomplete() {
      try {
        // A last event with no blank line after it counts: read it now (its frames go out with the end; a second `end()` reads nothing).
        parser.end();
        return failed ? "sent an error event" : translator.incomplete();
      } catch {
        // Never fail the delivery over a verdict: without one, the record goes by the clean end.
        return null;
      }
    },
  };
}

function errorData(data: string, translator: EventTranslator): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return JSON.stringify(translator.error({ message: "the provider's stream reported an error" }));
  }
  if ((parsed as { name?: unknown } | null)?.name === "AiGatewayError") return data;
  return JSON.stringify(translator.error(parsed));
}
