/**
 * Issue 22, faults on the provider route (`/v1/{account}/{gateway}/{provider}/…`): every way the
 * fault upstream can misbehave — resets before the headers, inside a body and inside a stream,
 * silence before the headers and inside a stream, malformed SSE, bodies shorter than their
 * Content-Length. Before anything went out the client gets the AiGatewayError envelope with a stable
 * code; once a stream runs it ends with the SSE error event and a failed connection; what the
 * provider sent whole passes through byte for byte. Every case leaves one log that says how it went,
 * and no request or upstream connection behind.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FAULT_NAMES } from "../support/fault-upstream.ts";
import { CASE_TIMEOUT_MS, chatBody, expectHttpFault, faultGateway, post, type FaultGateway } from "../support/fault-matrix.ts";

let f: FaultGateway;
beforeAll(async () => {
  f = await faultGateway();
});
afterAll(() => f[Symbol.asyncDispose]());

describe("the provider route, each upstream fault", () => {
  test.each(FAULT_NAMES)(
    "%s: the client is told, the log says how it went, nothing is left hanging",
    async (fault) => {
      const before = f.upstream.requests.length;

      const log = await expectHttpFault(fault, (headers) => fetch(`${f.gw.base()}/openai/chat/completions`, post(chatBody(fault), headers)), f);

      expect(log).toMatchObject({ request_type: "provider", provider: "openai", model: `fault-${fault}` });
      const reached = f.upstream.requests.slice(before);
      expect(reached.map((r) => [r.fault, r.path])).toEqual([[fault, "/v1/chat/completions"]]);
      // A silent provider is let go of, not held: the gateway closes the connection it gave up on.
      if (fault.startsWith("silent")) {
        await reached[0].closed;
        expect(reached[0].abandonedByGateway).toBe(true);
      }
      await f.expectIdle();
    },
    CASE_TIMEOUT_MS,
  );
});
