/**
 * One raw HTTP/1.1 connection that counts every answer the server writes on it, for request
 * smuggling shapes: a request whose body hides a second request is safe only if exactly one answer
 * comes back for it. Unlike `raw-http.ts` (first answer) and `raw-connection.ts` (one answer), this
 * parses answers one after another until the server closes.
 *
 * @example
 * await using conn = await rawSession(gw.url);
 * conn.write(`GET /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 40\r\n\r\n${hidden}`);
 * await conn.answers(1);
 * conn.write("GET /health HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
 * expect((await conn.closed).map((a) => a.status)).toEqual([200, 200]);
 */
import { connect, type Socket } from "node:net";

export interface ParsedAnswer {
  status: number;
  statusLine: string;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
}

export interface RawSession extends AsyncDisposable {
  write(data: string | Uint8Array): void;
  /** Half-closes: the client sends FIN and reads on. */
  end(): void;
  /** Resolves once `n` complete answers arrived (rejects if the server closes first). */
  answers(n: number): Promise<ParsedAnswer[]>;
  /** Every complete answer, once the server closed the connection. */
  readonly closed: Promise<ParsedAnswer[]>;
  destroy(): void;
}

/** Opens a connection to the server at `url` (host and port only). */
export async function rawSession(url: string): Promise<RawSession> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let received = Buffer.alloc(0);
  let parsed: ParsedAnswer[] = [];
  let waiters: { n: number; resolve(a: ParsedAnswer[]): void; reject(e: Error): void }[] = [];
  const closed = Promise.withResolvers<ParsedAnswer[]>();
  let isClosed = false;
  const settle = () => {
    waiters = waiters.filter((w) => {
      if (parsed.length >= w.n) w.resolve(parsed.slice(0, w.n));
      else if (isClosed) w.reject(new Error(`the server closed after ${parsed.length} answer(s), not ${w.n}; it sent ${JSON.stringify(received.toString("latin1").slice(0, 500))}`));
      else return true;
      return false;
    });
  };
  socket.on("data", (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    parsed = parseAnswers(received);
    settle();
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    isClosed = true;
    closed.resolve(parsed);
    settle();
  });
  const destroy = () => socket.destroy();
  return {
    write(data) {
      if (!socket.destroyed && socket.writable) socket.write(data);
    },
    end() {
      socket.end();
    },
    answers(n) {
      const { promise, resolve, reject } = Promise.withResolvers<ParsedAnswer[]>();
      waiters.push({ n, resolve, reject });
      settle();
      return promise;
    },
    closed: closed.promise,
    destroy,
    async [Symbol.asyncDispose]() {
      destroy();
    },
  };
}

/** Every complete answer in `data`, in order; an incomplete last one is left out. Skips `100 Continue`. */
export function parseAnswers(data: Buffer): ParsedAnswer[] {
  const answers: ParsedAnswer[] = [];
  let at = 0;
  while (at < data.length) {
    const headEnd = data.indexOf("\r\n\r\n", at);
    if (headEnd === -1) break;
    const [statusLine = "", ...lines] = data.subarray(at, headEnd).toString("latin1").split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? 0);
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (status === 100 || status === 204 || status === 304) body = Buffer.alloc(0);
    else if (headers["transfer-encoding"] === "chunked") {
      const parts: Buffer[] = [];
      let complete = false;
      while (true) {
        const lineEnd = data.indexOf("\r\n", bodyStart);
        if (lineEnd === -1) break;
        const size = parseInt(data.subarray(bodyStart, lineEnd).toString("latin1"), 16);
        if (size === 0) {
          bodyStart = lineEnd + 4;
          complete = true;
          break;
        }
        if (data.length < lineEnd + 2 + size + 2) break;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        bodyStart = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else {
      const length = Number(headers["content-length"] ?? 0);
      if (data.length < bodyStart + length) break;
      body = data.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    }
    at = bodyStart;
    if (status !== 100) answers.push({ status, statusLine, headers, body: body.toString("utf8") });
  }
  return answers;
}
