/**
 * Issue 22, faults on the Universal endpoint (`POST /v1/{account}/{gateway}`). One step meets each
 * fault exactly as the provider route does (the same answer, the same log, request_type universal).
 * With a second step behind it, a fault before the provider's headers (a reset, silence past the
 * first-byte limit) moves on to that step; once the provider's headers came — a body or stream that
 * breaks, or malformed SSE — there is no going back: the client is told as with one step, and the
 * second step is never called.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FAULT_NAMES, type FaultName } from "../support/fault-upstream.ts";
import { CASE_TIMEOUT_MS, chatBody, expectHttpFault, faultGateway, post, readAll, STREAMING, type FaultGateway } from "../support/fault-matrix.ts";

let f: FaultGateway;
beforeAll(async () => {
  f = await faultGateway();
});
afterAll(() => f[Symbol.asyncDispose]());

const step = (fault: FaultName) => ({ provider: "openai", endpoint: "chat/completions", headers: { authorization: "Bearer sk-client" }, query: chatBody(fault) });
/** The faults a second step answers for: the provider sent no headers. */
const BEFORE_HEADERS: FaultName[] = ["reset-before-headers", "silent-before-headers"];

describe("one Universal step, each upstream fault", () => {
  test.each(FAULT_NAMES)(
    "%s: answered as on the provider route, and logged as a universal request",
    async (fault) => {
      const log = await expectHttpFault(fault, (headers) => fetch(f.gw.base(), post([step(fault)], headers)), f);
      expect(log).toMatchObject({ request_type: "universal", provider: "openai", step: 0 });
      await f.expectIdle();
    },
    CASE_TIMEOUT_MS,
  );
});

describe("a Universal step that fails, with a second step behind it", () => {
  test.each(BEFORE_HEADERS)(
    "%s: the second step answers (cf-aig-step 1) and the log keeps both attempts",
    async (fault) => {
      const before = f.upstream.requests.length;

      const res = await fetch(f.gw.base(), post([step(fault), step("ok")]));
      const { text, ended } = await readAll(res);

      expect({ status: res.status, step: res.headers.get("cf-aig-step"), ended }).toEqual({ status: 200, step: "1", ended: "clean" });
      expect(JSON.parse(text)).toMatchObject({ object: "chat.completion" });
      expect(f.upstream.requests.slice(before).map((r) => r.fault)).toEqual([fault, "ok"]);
      const log = await f.log(res);
      expect(log).toMatchObject({ request_type: "universal", step: 1, status_code: 200, success: true, error_code: null });
      expect(log!.attempts.map((a) => ({ step: a.step, status: a.status, failed: a.error !== undefined }))).toEqual([
        { step: 0, status: null, failed: true },
        { step: 1, status: 200, failed: false },
      ]);
      await f.expectIdle();
    },
    CASE_TIMEOUT_MS,
  );

  test.each(FAULT_NAMES.filter((fault) => !BEFORE_HEADERS.includes(fault) && fault !== "ok" && fault !== "ok-stream"))(
    "%s: after the provider's headers there is no fallback; the client is told as with one step",
    async (fault) => {
      const before = f.upstream.requests.length;

      const log = await expectHttpFault(fault, (headers) => fetch(f.gw.base(), post([step(fault), step(STREAMING.has(fault) ? "ok-stream" : "ok")], headers)), f);

      expect(log.step).toBe(0);
      expect(f.upstream.requests.slice(before).map((r) => r.fault)).toEqual([fault]);
      await f.expectIdle();
    },
    CASE_TIMEOUT_MS,
  );
});
