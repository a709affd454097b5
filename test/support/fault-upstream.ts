/**
 * A provider that misbehaves on the wire, byte for byte: a raw HTTP/1.1 server over `node:net` that
 * can reset a connection (a real TCP RST) before or after its headers, declare a `Content-Length` it
 * never sends, fall silent, or send Server-Sent Events with garbage, odd splits or no end marker —
 * what `Bun.serve` (test/support/mock-upstream.ts) cannot be made to do.
 *
 * The fault is picked by the request body: the first `fault-<name>` in it (put it in `model`, which
 * every transport passes on: provider routes, Universal steps, WebSocket frames, compat). The answer
 * speaks Anthropic on `POST /v1/messages` and OpenAI Chat Completions anywhere else. Every answer
 * closes its connection, so no fault leaks into the next request.
 *
 * @example
 * await using upstream = await startFaultUpstream();
 * // config: providers: { openai: { baseUrl: `${upstream.url}/v1` } }
 * await fetch(`${gw}/openai/chat/completions`, { method: "POST", body: JSON.stringify({ model: "fault-reset-mid-stream", stream: true, messages }) });
 * await upstream.requests[0].closed; // the gateway let go of the connection
 */
import { createServer, type Server, type Socket } from "node:net";

/** Every way the upstream can answer; see {@link FAULTS} for what each does. */
export type FaultName =
  | "ok"
  | "ok-stream"
  | "reset-before-headers"
  | "silent-before-headers"
  | "reset-mid-body"
  | "reset-mid-chunked-body"
  | "reset-mid-stream"
  | "silent-mid-stream"
  | "garbage-sse"
  | "split-sse"
  | "no-done"
  | "truncated-body"
  | "truncated-large-body"
  | "truncated-stream";

/** What each fault does on the wire. */
export const FAULTS: Record<FaultName, string> = {
  ok: "a whole JSON answer",
  "ok-stream": "a whole SSE answer",
  "reset-before-headers": "the connection is reset (RST) once the request arrived, before any byte of an answer",
  "silent-before-headers": "nothing is ever sent; the connection stays open until the gateway closes it",
  "reset-mid-body": "headers with Content-Length, half the JSON body, then a reset",
  "reset-mid-chunked-body": "headers with chunked encoding, one chunk of the JSON body, then a reset",
  "reset-mid-stream": "SSE headers and the first two events, then a reset",
  "silent-mid-stream": "SSE headers and the first two events, then silence until the gateway closes the connection",
  "garbage-sse": "a whole SSE answer with garbage between its events: lines that are no SSE field, data that is not JSON, comments, a stray NUL",
  "split-sse": "a whole SSE answer in odd writes: mid-line, inside a UTF-8 character, between CR and LF, two events in one write",
  "no-done": "the SSE events without the end marker (OpenAI's [DONE], Anthropic's message_stop), ended cleanly",
  "truncated-body": "a Content-Length twice the JSON body's length, the body, then a clean close (FIN)",
  "truncated-large-body": "a Content-Length of 2 MiB, 64 KiB of a JSON body, then a clean close (FIN)",
  "truncated-stream": "SSE with a Content-Length of the whole answer, half its events, then a clean close (FIN)",
};

/** Every fault, in the order of {@link FAULTS}: the rows of the fault matrix. */
export const FAULT_NAMES = Object.keys(FAULTS) as FaultName[];

/** The assistant text of every answer (non-ASCII on purpose: a split inside a character must not garble it). */
export const FAULT_REPLY = "Hello wörld ✓ 😀";
/** The usage every answer reports (OpenAI's names; Anthropic's input/output tokens are the same numbers). */
export const FAULT_USAGE = { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 };
/** The model every answer names. */
export const FAULT_MODEL = "fault-model";

export interface FaultRequest {
  fault: FaultName;
  method: string;
  path: string;
  body: string;
  /** Resolves when the connection is gone, whoever closed it. */
  closed: Promise<void>;
  /** True once the gateway closed the connection while this upstream was still holding it (a silent fault given up on). */
  abandonedByGateway: boolean;
}

export interface FaultUpstream extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  /** Every request so far, in arrival order. */
  requests: FaultRequest[];
  /** Resolves once `requests.length >= n`. */
  waitForRequests(n: number): Promise<void>;
  /** Connections open now. */
  openConnections(): number;
  stop(): Promise<void>;
}

type Family = "openai" | "anthropic";

const encoder = new TextEncoder();
const PIECES = ["Hello", " wörld", " ✓", " 😀"];

/** One SSE event; `crlf` ends its lines with CRLF, as some servers do. */
function sse(data: unknown, event?: string, crlf = false): string {
  const nl = crlf ? "\r\n" : "\n";
  const payload = typeof data === "string" ? data : JSON.stringify(data);
  return `${event ? `event: ${event}${nl}` : ""}data: ${payload}${nl}${nl}`;
}

/** The SSE events of a whole streamed answer, end marker last. */
export function streamEvents(family: Family, crlf = false): string[] {
  if (family === "anthropic") {
    const ev = (type: string, fields: object) => sse({ type, ...fields }, type, crlf);
    return [
      ev("message_start", {
        message: { id: "msg_fault", type: "message", role: "assistant", model: FAULT_MODEL, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: FAULT_USAGE.prompt_tokens, output_tokens: 1 } },
      }),
      ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
      ...PIECES.map((text) => ev("content_block_delta", { index: 0, delta: { type: "text_delta", text } })),
      ev("content_block_stop", { index: 0 }),
      ev("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: FAULT_USAGE.completion_tokens } }),
      ev("message_stop", {}),
    ];
  }
  const base = { id: "chatcmpl-fault", object: "chat.completion.chunk", created: 1_700_000_000, model: FAULT_MODEL };
  const chunk = (delta: object, finish: string | null) => sse({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] }, undefined, crlf);
  return [
    chunk({ role: "assistant", content: "" }, null),
    ...PIECES.map((content) => chunk({ content }, null)),
    chunk({}, "stop"),
    sse({ ...base, choices: [], usage: FAULT_USAGE }, undefined, crlf),
    sse("[DONE]", undefined, crlf),
  ];
}

/** The whole non-streaming answer. */
export function jsonAnswer(family: Family): string {
  if (family === "anthropic") {
    return JSON.stringify({
      id: "msg_fault",
      type: "message",
      role: "assistant",
      model: FAULT_MODEL,
      content: [{ type: "text", text: FAULT_REPLY }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: FAULT_USAGE.prompt_tokens, output_tokens: FAULT_USAGE.completion_tokens },
    });
  }
  return JSON.stringify({
    id: "chatcmpl-fault",
    object: "chat.completion",
    created: 1_700_000_000,
    model: FAULT_MODEL,
    choices: [{ index: 0, message: { role: "assistant", content: FAULT_REPLY }, finish_reason: "stop" }],
    usage: FAULT_USAGE,
  });
}

/** Lines no SSE parser should trip over, and data no client would expect, between real events. */
const GARBAGE = ["this line is no SSE field\n", ": a comment line\n", "data: {not json at all\n\n", "\u0000\n", "retry: soon\nid\n\n", "data:\n\n"];

/** What `garbage-sse` sends: the events of a whole answer with {@link GARBAGE} between them. */
export function garbageStream(family: Family): string {
  const events = streamEvents(family);
  return events.map((event, i) => (i < GARBAGE.length ? GARBAGE[i] : "") + event).join("");
}

/** What `split-sse` sends, as the writes it makes (CRLF line endings; joined, they are one whole answer). */
export function splitWrites(family: Family): Uint8Array[] {
  const whole = encoder.encode(streamEvents(family, true).join(""));
  const cuts = new Set<number>();
  // Mid-line, a few bytes into the first event.
  cuts.add(3);
  // Inside the emoji (4 bytes in UTF-8) and inside "ö" (2 bytes).
  const emoji = whole.indexOf(0xf0);
  cuts.add(emoji + 2);
  const umlaut = whole.indexOf(0xc3);
  cuts.add(umlaut + 1);
  // Between a CR and its LF, at the end of the second event.
  let crlf = -1;
  for (let i = 0, seen = 0; i < whole.length - 3; i++) {
    if (whole[i] === 13 && whole[i + 1] === 10 && whole[i + 2] === 13 && whole[i + 3] === 10 && ++seen === 2) {
      crlf = i + 3;
      break;
    }
  }
  cuts.add(crlf);
  // Everything between these cuts goes in one write: several events at once.
  const sorted = [...cuts].filter((cut) => cut > 0 && cut < whole.length).sort((a, b) => a - b);
  const writes: Uint8Array[] = [];
  let from = 0;
  for (const cut of sorted) {
    writes.push(whole.subarray(from, cut));
    from = cut;
  }
  writes.push(whole.subarray(from));
  return writes;
}

/** A macrotask turn, so each write leaves in its own TCP segment (Nagle is off). */
const apart = () => new Promise<void>((resolve) => setTimeout(resolve, 5));

const SSE_HEAD = "content-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n";
const JSON_HEAD = "content-type: application/json\r\n";
const status = (head: string) => `HTTP/1.1 200 OK\r\n${head}connection: close\r\n`;
const chunked = (data: string | Uint8Array) => {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return Buffer.concat([Buffer.from(`${bytes.byteLength.toString(16)}\r\n`), Buffer.from(bytes), Buffer.from("\r\n")]);
};

/** Plays one fault on `socket`. Resolves when it has done all it will do. */
async function play(socket: Socket, fault: FaultName, family: Family, hold: () => Promise<void>): Promise<void> {
  const write = (data: string | Uint8Array) => socket.write(typeof data === "string" ? data : Buffer.from(data));
  const reset = () => void socket.resetAndDestroy();
  const json = jsonAnswer(family);
  const events = streamEvents(family);
  const streamHead = `${status(SSE_HEAD)}transfer-encoding: chunked\r\n\r\n`;
  switch (fault) {
    case "ok":
      write(`${status(JSON_HEAD)}content-length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
      return void socket.end();
    case "ok-stream":
      write(streamHead);
      for (const event of events) write(chunked(event));
      write("0\r\n\r\n");
      return void socket.end();
    case "reset-before-headers":
      return reset();
    case "silent-before-headers":
      return hold();
    case "reset-mid-body": {
      const bytes = Buffer.from(json);
      write(`${status(JSON_HEAD)}content-length: ${bytes.byteLength}\r\n\r\n`);
      write(bytes.subarray(0, bytes.byteLength >> 1));
      await apart();
      return reset();
    }
    case "reset-mid-chunked-body":
      write(`${status(JSON_HEAD)}transfer-encoding: chunked\r\n\r\n`);
      write(chunked(json.slice(0, json.length >> 1)));
      await apart();
      return reset();
    case "reset-mid-stream":
    case "silent-mid-stream":
      write(streamHead);
      for (const event of events.slice(0, 2)) {
        write(chunked(event));
        await apart();
      }
      if (fault === "silent-mid-stream") return hold();
      return reset();
    case "garbage-sse":
      write(streamHead);
      write(chunked(garbageStream(family)));
      write("0\r\n\r\n");
      return void socket.end();
    case "split-sse": {
      // No chunked framing: a close-delimited body, so every odd cut reaches the gateway as its own read.
      write(status(SSE_HEAD) + "\r\n");
      for (const piece of splitWrites(family)) {
        await apart();
        write(piece);
      }
      return void socket.end();
    }
    case "no-done":
      write(streamHead);
      for (const event of events.slice(0, -1)) write(chunked(event));
      write("0\r\n\r\n");
      return void socket.end();
    case "truncated-body": {
      const bytes = Buffer.byteLength(json);
      write(`${status(JSON_HEAD)}content-length: ${bytes * 2}\r\n\r\n${json}`);
      await apart();
      return void socket.end();
    }
    case "truncated-large-body": {
      write(`${status(JSON_HEAD)}content-length: ${2 * 1024 * 1024}\r\n\r\n`);
      write(`{"padding":"${"x".repeat(64 * 1024)}`);
      await apart();
      return void socket.end();
    }
    case "truncated-stream": {
      const whole = events.join("");
      write(`${status(SSE_HEAD)}content-length: ${Buffer.byteLength(whole)}\r\n\r\n`);
      write(events.slice(0, events.length >> 1).join(""));
      await apart();
      return void socket.end();
    }
  }
}

/** The end of the request head and the body length it declares, once the head is complete. */
function requestHead(buffer: Buffer): { method: string; path: string; bodyStart: number; length: number } | null {
  const end = buffer.indexOf("\r\n\r\n");
  if (end === -1) return null;
  const lines = buffer.subarray(0, end).toString("latin1").split("\r\n");
  const [method, path] = lines[0].split(" ");
  const lengthLine = lines.find((line) => /^content-length:/i.test(line));
  return { method, path, bodyStart: end + 4, length: lengthLine ? Number(lengthLine.split(":")[1].trim()) : 0 };
}

/** Starts the upstream on a free loopback port. */
export async function startFaultUpstream(): Promise<FaultUpstream> {
  const requests: FaultRequest[] = [];
  const sockets = new Set<Socket>();
  let waiters: { n: number; resolve(): void }[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => {});
    const closed = Promise.withResolvers<void>();
    socket.on("close", () => {
      sockets.delete(socket);
      closed.resolve();
    });
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on("data", (data: Buffer) => {
      if (started) return;
      buffer = Buffer.concat([buffer, data]);
      const head = requestHead(buffer);
      if (!head || buffer.byteLength < head.bodyStart + head.length) return;
      started = true;
      const body = buffer.subarray(head.bodyStart, head.bodyStart + head.length).toString("utf8");
      const fault = (/fault-([a-z-]+)/.exec(body)?.[1] ?? "ok") as FaultName;
      if (!(fault in FAULTS)) throw new Error(`fault upstream: no fault named ${fault}`);
      const request: FaultRequest = { fault, method: head.method, path: head.path, body, closed: closed.promise, abandonedByGateway: false };
      requests.push(request);
      waiters = waiters.filter((w) => (requests.length >= w.n ? (w.resolve(), false) : true));
      // A held connection ends when the gateway lets go of it: that is what the silent faults wait for.
      const hold = () => closed.promise.then(() => void (request.abandonedByGateway = true));
      const family: Family = head.path.startsWith("/v1/messages") ? "anthropic" : "openai";
      play(socket, fault, family, hold).catch(() => socket.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const stop = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    waitForRequests(n) {
      if (requests.length >= n) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ n, resolve });
      return promise;
    },
    openConnections: () => sockets.size,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
