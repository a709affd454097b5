/**
 * HTTP/1.x written byte for byte over `node:net`, for request shapes `fetch` cannot send: no Host,
 * odd Host values, absolute-form or `*` targets, CONNECT, TRACE, unknown methods.
 *
 * @example
 * const answer = await rawHttp(t.gw.url, "GET /v1/local/default/openai/models HTTP/1.0\r\n\r\n");
 * expect(answer.status).toBe(200);
 * await expectGatewayError(answer.response(), 405, ErrorCode.MethodNotAllowed);
 */
import { connect } from "node:net";

export interface RawAnswer {
  /** `HTTP/1.1 200 OK`, or "" when the server closed the connection without answering. */
  statusLine: string;
  /** 0 when there was no answer. */
  status: number;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
  /** The answer as a `Response`, for helpers such as `expectGatewayError`. */
  response(): Response;
}

/**
 * Sends `request` exactly as given to the server at `url` (only its host and port are used) and
 * resolves with the first answer: once its `Content-Length` bytes arrived, or when the server closes.
 */
export function rawHttp(url: string, request: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const { promise, resolve, reject } = Promise.withResolvers<RawAnswer>();
  const socket = connect(Number(port), hostname, () => socket.write(request));
  let received = Buffer.alloc(0);
  const finish = () => {
    socket.destroy();
    resolve(parse(received));
  };
  socket.on("data", (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    if (complete(received)) finish();
  });
  socket.on("close", finish);
  socket.on("error", reject);
  return promise;
}

function complete(received: Buffer): boolean {
  const headEnd = received.indexOf("\r\n\r\n");
  if (headEnd === -1) return false;
  const head = received.subarray(0, headEnd).toString("latin1");
  if (/^transfer-encoding:\s*chunked\s*$/im.test(head)) return received.subarray(headEnd + 4).includes("0\r\n\r\n");
  const length = /^content-length:\s*(\d+)\s*$/im.exec(head);
  return length !== null && received.length - headEnd - 4 >= Number(length[1]);
}

function unchunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", at);
    const size = lineEnd === -1 ? 0 : parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

function parse(received: Buffer): RawAnswer {
  const headEnd = received.indexOf("\r\n\r\n");
  const head = received.subarray(0, headEnd === -1 ? received.length : headEnd).toString("latin1");
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = headEnd === -1 ? Buffer.alloc(0) : received.subarray(headEnd + 4);
  const body = (headers["transfer-encoding"] === "chunked" ? unchunk(rest) : rest).toString("utf8");
  const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const response = () => {
    if (status === 0) throw new Error(`no HTTP answer; the server sent ${JSON.stringify(received.toString("latin1"))}`);
    const { "transfer-encoding": _, ...kept } = headers;
    return new Response(body, { status, headers: kept });
  };
  return { statusLine, status, headers, body, response };
}
