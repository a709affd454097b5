/**
 * A WebSocket client written byte for byte over `node:net`, for frames no real client sends:
 * unmasked frames, reserved bits, unknown opcodes, a continuation with nothing to continue, invalid
 * UTF-8 in a text frame, a control frame over 125 bytes, a length field of 2^63, raw garbage.
 *
 * @example
 * await using ws = await rawWebSocket(`${gw.url}/v1/local/default`);
 * ws.sendFrame(0x1, new Uint8Array([0xff]));
 * expect((await ws.closed).code).toBe(1007);
 */
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

export interface FrameOptions {
  /** @default true */
  fin?: boolean;
  /** Mask the payload as RFC 6455 requires of clients. @default true */
  mask?: boolean;
  /** Reserved bits (0–7) in the first byte's RSV1..RSV3 positions. @default 0 */
  rsv?: number;
  /** Announce this length instead of the payload's own (as a 64-bit length when over 65535). */
  declaredLength?: bigint;
}

export interface RawWebSocket extends AsyncDisposable {
  /** The handshake answer's status (101 when accepted). */
  status: number;
  /** The handshake answer's body when it was refused. */
  refusal: string;
  sendFrame(opcode: number, payload: Uint8Array | string, options?: FrameOptions): void;
  sendRaw(bytes: Uint8Array | string): void;
  frames: ServerFrame[];
  /** The next frame not yet returned, in arrival order; rejects when the socket closes first. */
  next(): Promise<ServerFrame>;
  /** The close code the server sent (1006 when it only dropped the connection), once the socket closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  destroy(): void;
}

/** Performs the opening handshake on `url` (`http://host:port/path`) with extra header lines. */
export async function rawWebSocket(url: string, headerLines: string[] = []): Promise<RawWebSocket> {
  const { hostname, port, pathname, search } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const key = randomBytes(16).toString("base64");
  socket.write(
    [`GET ${pathname}${search} HTTP/1.1`, `Host: ${hostname}:${port}`, "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Key: ${key}`, "Sec-WebSocket-Version: 13", ...headerLines, "", ""].join("\r\n"),
  );

  let buffer = Buffer.alloc(0);
  const frames: ServerFrame[] = [];
  let cursor = 0;
  let waiters: (() => void)[] = [];
  let isClosed = false;
  let closeFrame: { code: number; reason: string } | null = null;
  const closed = Promise.withResolvers<{ code: number; reason: string }>();
  const head = Promise.withResolvers<{ status: number; rest: Buffer; body: string }>();
  let handshakeDone = false;
  const wake = () => {
    const current = waiters;
    waiters = [];
    for (const w of current) w();
  };
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (!handshakeDone) {
      const end = buffer.indexOf("\r\n\r\n");
      if (end === -1) return;
      handshakeDone = true;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buffer.subarray(0, end).toString("latin1"))?.[1] ?? 0);
      head.resolve({ status, rest: buffer.subarray(end + 4), body: buffer.subarray(end + 4).toString("utf8") });
      buffer = status === 101 ? buffer.subarray(end + 4) : Buffer.alloc(0);
      if (status !== 101) return;
    }
    for (;;) {
      const frame = parseFrame(buffer);
      if (!frame) break;
      buffer = buffer.subarray(frame.size);
      frames.push(frame.frame);
      if (frame.frame.opcode === 0x8) {
        const payload = frame.frame.payload;
        closeFrame = { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString("utf8") };
      }
    }
    wake();
  });
  socket.on("close", () => {
    isClosed = true;
    if (!handshakeDone) head.resolve({ status: 0, rest: Buffer.alloc(0), body: buffer.toString("latin1") });
    closed.resolve(closeFrame ?? { code: 1006, reason: "" });
    wake();
  });

  const { status, body } = await head.promise;
  const destroy = () => socket.destroy();
  return {
    status,
    refusal: status === 101 ? "" : body,
    sendFrame(opcode, payload, options = {}) {
      if (!socket.destroyed && socket.writable) socket.write(encodeFrame(opcode, typeof payload === "string" ? Buffer.from(payload) : payload, options));
    },
    sendRaw(bytes) {
      if (!socket.destroyed && socket.writable) socket.write(bytes);
    },
    frames,
    next() {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (cursor < frames.length) return resolve(frames[cursor++]);
          if (isClosed) return reject(new Error(`the socket closed (${closeFrame?.code ?? 1006}) before another frame`));
          waiters.push(check);
        };
        check();
      });
    },
    closed: closed.promise,
    destroy,
    async [Symbol.asyncDispose]() {
      destroy();
    },
  };
}

function encodeFrame(opcode: number, payload: Uint8Array, options: FrameOptions): Buffer {
  const { fin = true, mask = true, rsv = 0, declaredLength } = options;
  const length = declaredLength ?? BigInt(payload.byteLength);
  const parts: Buffer[] = [Buffer.from([(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)])];
  const maskBit = mask ? 0x80 : 0;
  if (length < 126n) parts.push(Buffer.from([maskBit | Number(length)]));
  else if (length < 65536n) {
    const b = Buffer.alloc(3);
    b[0] = maskBit | 126;
    b.writeUInt16BE(Number(length), 1);
    parts.push(b);
  } else {
    const b = Buffer.alloc(9);
    b[0] = maskBit | 127;
    b.writeBigUInt64BE(length, 1);
    parts.push(b);
  }
  if (mask) {
    const key = randomBytes(4);
    const masked = Buffer.from(payload);
    for (let i = 0; i < masked.length; i++) masked[i] ^= key[i % 4];
    parts.push(key, masked);
  } else parts.push(Buffer.from(payload));
  return Buffer.concat(parts);
}

function parseFrame(data: Buffer): { frame: ServerFrame; size: number } | null {
  if (data.length < 2) return null;
  const fin = (data[0] & 0x80) !== 0;
  const opcode = data[0] & 0x0f;
  let length = data[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (data.length < 4) return null;
    length = data.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (data.length < 10) return null;
    length = Number(data.readBigUInt64BE(2));
    offset = 10;
  }
  if (data.length < offset + length) return null;
  return { frame: { fin, opcode, payload: data.subarray(offset, offset + length) }, size: offset + length };
}
