/**
 * Guardrails over an SSE answer, as it passes. The answer text is spread over the string values of
 * the events' JSON (`choices[].delta.content`, Anthropic `delta.text`, Gemini `parts[].text`, …), so
 * those strings are laid end to end into one running text, and the rules run over it.
 *
 * Events are held back, never bytes: an event leaves once every match that could still involve its
 * text is decided, that is once the running text has grown `window` characters past it and no match
 * that is still growing starts in it. So a match split over several events is found whole, and
 * redacted in place — the marker in the first event's string, the rest of the match removed from the
 * following ones — while the stream keeps its shape. Events with no answer text (usage,
 * `message_start`, `[DONE]`) keep their place in the queue.
 *
 * The limit: a match must be recognisable (the detector matches something) within `window`
 * characters of where it starts; a longer one split over events may have its beginning sent before
 * it is recognised. Text already sent stays as the last few characters of context, so word
 * boundaries still hold across the cut.
 */
import { jsonStrings, rewriteStrings, type JsonString } from "./json.ts";
import { findHits, marker, mergeSpans, type CompiledRule, type Hit } from "./rules.ts";

/** Keys whose string values are answer text in the providers' stream events. */
export const CONTENT_KEYS = new Set(["content", "text", "delta", "arguments", "partial_json", "thinking", "reasoning_content", "refusal", "response"]);
/** Characters of text already sent that the rules still see (for word boundaries). */
const CONTEXT_CHARS = 32;

export interface StreamGuard {
  /** The answer rules. */
  rules: CompiledRule[];
  /** Characters of answer text held back before an event is sent. */
  window: number;
  /** A flag rule matched. */
  flag(rule: CompiledRule): void;
  /** A block rule matched: the bytes that end the stream (the gateway's SSE error event). */
  block(rule: CompiledRule): Promise<Uint8Array>;
}

interface Segment {
  string: JsonString;
  /** Absolute offset of the string's value in the running text. */
  at: number;
}

interface PendingEvent {
  raw: string;
  /** The event's data (data lines joined), when it is JSON with answer text; else null. */
  data: string | null;
  segments: Segment[];
  /** Absolute offsets of its text in the running text. */
  start: number;
  end: number;
}

const encoder = new TextEncoder();
const EVENT_END = /\r?\n\r?\n/;

export function guardSse(body: ReadableStream<Uint8Array>, guard: StreamGuard): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  let buffer = "";
  const pending: PendingEvent[] = [];
  /** Text of the pending events, from absolute offset `pendingStart`. */
  let pendingText = "";
  let pendingStart = 0;
  /** The last characters of text already sent (redacted as sent). */
  let context = "";
  let ended = false;

  function addEvent(raw: string): void {
    const start = pendingStart + pendingText.length;
    const event: PendingEvent = { raw, data: null, segments: [], start, end: start };
    const dataLines = raw.split(/\r?\n/).filter((line) => line.startsWith("data:"));
    if (dataLines.length > 0) {
      const data = dataLines.map((line) => line.slice(line.startsWith("data: ") ? 6 : 5)).join("\n");
      const first = data.trimStart()[0];
      if (first === "{" || first === "[") {
        let valid = true;
        try {
          JSON.parse(data);
        } catch {
          valid = false;
        }
        if (valid) {
          for (const string of jsonStrings(data)) {
            if (string.key === null || !CONTENT_KEYS.has(string.key) || string.value === "") continue;
            event.segments.push({ string, at: event.end });
            event.end += string.value.length;
            pendingText += string.value;
          }
          if (event.segments.length > 0) event.data = data;
        }
      }
    }
    pending.push(event);
  }

  function takeEvents(): void {
    for (let m = EVENT_END.exec(buffer); m !== null; m = EVENT_END.exec(buffer)) {
      const cut = m.index + m[0].length;
      addEvent(buffer.slice(0, cut));
      buffer = buffer.slice(cut);
    }
  }

  /** Sends what is decided; on a block, also the error event, and ends the stream. */
  async function settle(controller: TransformStreamDefaultController<Uint8Array>, final: boolean): Promise<void> {
    const base = pendingStart - context.length;
    const total = pendingStart + pendingText.length;
    const hits = findHits(guard.rules, context + pendingText)
      .map((h) => ({ ...h, start: h.start + base, end: h.end + base }))
      .filter((h) => h.end > pendingStart);
    const limit = final ? total : total - guard.window;
    const block = hits.find((h) => h.rule.action === "block" && h.end <= limit);
    // The boundary moves back until no match straddles it and it falls between two events.
    let boundary = Math.max(block ? block.start : limit, pendingStart);
    for (;;) {
      for (const h of hits) if (h.start < boundary && h.end > boundary) boundary = Math.max(h.start, pendingStart);
      let cut = pendingStart;
      for (const event of pending) {
        if (event.end > boundary) break;
        cut = event.end;
      }
      if (cut === boundary) break;
      boundary = cut;
    }
    const done = hits.filter((h) => h.end <= boundary);
    for (const h of done) if (h.rule.action === "flag") guard.flag(h.rule);
    const spans = mergeSpans(done.filter((h) => h.rule.action === "redact")).map((s) => ({ ...s, placed: false }));

    let sentText = "";
    let out = "";
    while (pending.length > 0 && pending[0].end <= boundary && !(block && pending[0].end > block.start)) {
      const event = pending.shift()!;
      const changes: { string: JsonString; value: string }[] = [];
      for (const segment of event.segments) {
        const value = redactSegment(segment, spans);
        if (value !== segment.string.value) changes.push({ string: segment.string, value });
        sentText += value;
      }
      out += changes.length > 0 ? withData(event.raw, rewriteStrings(event.data!, changes)) : event.raw;
      pendingText = pendingText.slice(event.end - pendingStart);
      pendingStart = event.end;
    }
    if (sentText) context = (context + sentText).slice(-CONTEXT_CHARS);
    if (out) controller.enqueue(encoder.encode(out));
    if (block) {
      ended = true;
      controller.enqueue(await guard.block(block.rule));
      controller.terminate();
    }
  }

  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        if (ended) return;
        buffer += decoder.decode(chunk, { stream: true });
        takeEvents();
        await settle(controller, false);
      },
      async flush(controller) {
        if (ended) return;
        buffer += decoder.decode();
        takeEvents();
        if (buffer) addEvent(buffer);
        buffer = "";
        await settle(controller, true);
      },
    }),
  );
}

/** The segment's string with the parts of `spans` it holds removed; the marker goes where a span's first part is sent. */
function redactSegment(segment: Segment, spans: (Hit & { placed: boolean })[]): string {
  const value = segment.string.value;
  const end = segment.at + value.length;
  let out = "";
  let pos = segment.at;
  for (const span of spans) {
    if (span.end <= segment.at || span.start >= end) continue;
    const from = Math.max(span.start, segment.at);
    out += value.slice(pos - segment.at, from - segment.at) + (span.placed ? "" : marker(span.rule));
    span.placed = true;
    pos = Math.min(span.end, end);
  }
  return pos === segment.at && out === "" ? value : out + value.slice(pos - segment.at);
}

/** The event with its data lines replaced by `data` (as one line per line of `data`), other lines kept. */
function withData(raw: string, data: string): string {
  const eol = raw.includes("\r\n") ? "\r\n" : "\n";
  const lines = raw.split(/\r?\n/);
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  const first = lines.findIndex((line) => line.startsWith("data:"));
  const kept = lines.filter((line) => !line.startsWith("data:"));
  kept.splice(first, 0, ...data.split("\n").map((line) => `data: ${line}`));
  return kept.join(eol) + eol + eol;
}
