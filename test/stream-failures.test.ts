import { describe, expect, test } from "bun:test";
import { createServer, type AddressInfo } from "node:net";
import OpenAI from "openai";
import { ErrorCode } from "../src/pipeline/errors.ts";
import { gatewayWithMock } from "./support/with-mock.ts";

const chat = { model: "gpt-4o-mini", messages: [{ role: "user", content: "say hello to me" }], stream: true };
const post = (headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers },
  body: JSON.stringify(chat),
});

/** Reads a body to its end; returns what arrived and how the connection ended. */
async function readAll(response: Response): Promise<{ text: string; ended: "clean" | "error" }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, ended: "clean" };
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return { text, ended: "error" };
  }
}

/** The `data` of the `event: error` events in an SSE text, parsed. */
function errorEvents(text: string): unknown[] {
  return [...text.matchAll(/event: error\ndata: (.*)\n\n/g)].map((match) => JSON.parse(match[1]));
}

describe("a provider stream that breaks after the first byte", () => {
  test("ends with an SSE error event carrying the AiGatewayError envelope, then a failed connection; the record says so", async () => {
    await using t = await gatewayWithMock();

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ "x-mock-break-after": "2" }));
    const { text, ended } = await readAll(res);

    expect(res.status).toBe(200);
    expect(text).toContain("data: {");
    expect(text).not.toContain("[DONE]");
    expect(errorEvents(text)).toEqual([
      { success: false, error: [{ code: ErrorCode.StreamBroken, message: expect.stringContaining("broke after the first byte") }], name: "AiGatewayError", httpCode: 502, internalCode: ErrorCode.StreamBroken, message: expect.any(String) },
    ]);
    expect(ended).toBe("error");
    expect(await t.log(res)).toMatchObject({ status_code: 200, success: false, error_code: ErrorCode.StreamBroken });
  });

  test("is an error in the official OpenAI client, not a short answer", async () => {
    await using t = await gatewayWithMock();
    const client = new OpenAI({ baseURL: `${t.gw.base()}/openai`, apiKey: "sk-client", maxRetries: 0, defaultHeaders: { "x-mock-break-after": "2" } });

    const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: chat.messages as never, stream: true });
    const read = (async () => {
      for await (const _ of stream) {
        // draining
      }
    })();

    await expect(read).rejects.toThrow();
  });

  test("a body that is not SSE is aborted, so the client's read fails", async () => {
    // A provider that sends its headers and one chunk of a chunked body, then drops the connection.
    const provider = createServer((socket) => {
      socket.once("data", () => {
        const chunk = `{"partial": "${"x".repeat(2000)}`;
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`);
        setImmediate(() => socket.destroy());
      });
    });
    await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
    const { port } = provider.address() as AddressInfo;
    await using t = await gatewayWithMock({ providers: { "custom-flaky": { baseUrl: `http://127.0.0.1:${port}` } } });

    // When the break comes with the first chunk, nothing has gone out yet and the connection fails
    // before the status line; otherwise the body read fails. Either way the client sees a failure.
    const ended = await fetch(`${t.gw.base()}/custom-flaky/anything`, post()).then(
      async (res) => (await readAll(res)).ended,
      () => "error" as const,
    );
    provider.close();

    expect(ended).toBe("error");
    const [log] = await t.logs();
    expect(log).toMatchObject({ success: false, error_code: ErrorCode.StreamBroken });
  });
});

describe("a stream that falls silent", () => {
  test("is cut after streamIdleTimeout with the SSE error event, and recorded", async () => {
    await using t = await gatewayWithMock({ gateways: { default: { streamIdleTimeout: 100 } } });
    const hold = t.upstream.holdStream();

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post());
    const { text, ended } = await readAll(res);
    hold.release();

    expect(ended).toBe("error");
    expect(errorEvents(text)).toEqual([expect.objectContaining({ internalCode: ErrorCode.StreamBroken, message: expect.stringContaining("streamIdleTimeout") })]);
    expect(await t.log(res)).toMatchObject({ success: false, error_code: ErrorCode.StreamBroken, error_message: expect.stringContaining("idle") });
  });

  test("a stream that keeps talking is not cut by the first-byte timeout", async () => {
    await using t = await gatewayWithMock({ gateways: { default: { requestTimeout: 100 } } });
    const hold = t.upstream.holdStream();

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post());
    await hold.firstChunkSent;
    // The first byte came long before the limit; holding the rest past it must not cut the stream.
    const released = Bun.sleep(250).then(() => hold.release());
    const { text, ended } = await readAll(res);
    await released;

    expect(ended).toBe("clean");
    expect(text).toContain("[DONE]");
  });
});
