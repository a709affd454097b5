/**
 * One HTTP/1.1 connection over `node:net` that the test writes to piece by piece: a head, part of a
 * body, a body that trickles in on a timer, then nothing at all. For what `fetch` cannot do — send
 * half a body and keep the socket open, send slower than the server allows, leave mid-upload.
 *
 * @example
 * await using conn = await openConnection(t.gw.url);
 * conn.write(head + "x".repeat(1000));
 * conn.writeEvery(50, "xxxxxxxxxx");
 * const answer = await conn.answer;
 * await conn.closed;
 */
import { connect, type Socket } from "node:net";
import type { RawAnswer } from "./raw-http.ts";

export type { RawAnswer };

export interface RawConnection extends AsyncDisposable {
  /** Writes bytes as given; ignored once the socket is gone. */
  write(data: string | Uint8Array): void;
  /** Writes `data` every `ms` (the client's pace) until the connection ends or is disposed. */
  writeEvery(ms: number, data: string | Uint8Array): void;
  /** Stops a `writeEvery`. */
  stopWriting(): void;
  /** The first complete answer; rejects when the server closes without one. */
  readonly answer: Promise<RawAnswer>;
  /** Resolves when the server ends or resets the connection (not when the test destroys it). */
  readonly closed: Promise<void>;
  /** Leaves abruptly, as a client that goes away does. */
  destroy(): void;
}

/** Connects to the server at `url` (only its host and port are used). */
export async function openConnection(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const answer = Promise.withResolvers<RawAnswer>();
  const closed = Promise.withResolvers<void>();
  // Nobody has to await either: a test that only checks one must not fail on the other.
  answer.promise.catch(() => {});
  let received = Buffer.alloc(0);
  let timer: ReturnType<typeof setInterval> | null = null;
  let leftByUs = false;
  const stopWriting = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  socket.on("data", (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const parsed = completeAnswer(received);
    if (parsed) answer.resolve(parsed);
  });
  // Writing into a connection the server closed fails with EPIPE/ECONNRESET: that is the point, not an error.
  socket.on("error", () => {});
  socket.on("close", () => {
    stopWriting();
    answer.reject(new Error(`the server closed the connection without a complete answer; it sent ${JSON.stringify(received.toString("latin1"))}`));
    if (!leftByUs) closed.resolve();
  });
  const write = (data: string | Uint8Array) => {
    if (!socket.destroyed && socket.writable) socket.write(data);
  };
  const destroy = () => {
    leftByUs = true;
    stopWriting();
    socket.destroy();
  };
  return {
    write,
    writeEvery(ms, data) {
      stopWriting();
      timer = setInterval(() => write(data), ms);
    },
    stopWriting,
    answer: answer.promise,
    closed: closed.promise,
    destroy,
    async [Symbol.asyncDispose]() {
      destroy();
    },
  };
}

/** The answer once its head and `Content-Length` bytes (or its last chunk) arrived, else null. */
function completeAnswer(received: Buffer): RawAnswer | null {
  const headEnd = received.indexOf("\r\n\r\n");
  if (headEnd === -1) return null;
  const [statusLine = "", ...lines] = received.subarray(0, headEnd).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = received.subarray(headEnd + 4);
  let body: Buffer;
  if (headers["transfer-encoding"] === "chunked") {
    const unchunked = unchunk(rest);
    if (!unchunked) return null;
    body = unchunked;
  } else {
    const length = Number(headers["content-length"] ?? 0);
    if (rest.length < length) return null;
    body = rest.subarray(0, length);
  }
  const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const text = body.toString("utf8");
  const response = () => {
    const { "transfer-encoding": _, ...kept } = headers;
    return new Response(text, { status, headers: kept });
  };
  return { statusLine, status, headers, body: text, response };
}

/** The body of a chunked message, or null while its last chunk has not arrived. */
function unchunk(body: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", at);
    if (lineEnd === -1) return null;
    const size = parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
    if (size === 0) return Buffer.concat(parts);
    if (body.length < lineEnd + 2 + size + 2) return null;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
