/**
 * What every case of the hardening suite asserts about an answer: it is clear (a provider's answer,
 * or the gateway's AiGatewayError envelope with a documented status and code), and the gateway is
 * still there afterwards (`GET /health` answers 200).
 *
 * @example
 * const answer = await answerOf(await fetch(url, { method: "POST", body: "{" }));
 * expectClear(answer, "compat body {", [[400, ErrorCode.CompatBadFormat]]);
 * await expectAlive(gw.url);
 */
import { expect } from "bun:test";

/** An HTTP answer read whole, with the envelope's code when the body is the gateway's own error. */
export interface Answer {
  status: number;
  /** `internalCode` of an AiGatewayError envelope, else null. */
  code: number | null;
  /** True when the body is the complete AiGatewayError envelope (every field, consistent). */
  envelope: boolean;
  body: string;
  headers: Headers;
}

/** The envelope's fields, checked for consistency: `error[0]` and `message` agree, `httpCode` is the status. */
export function envelopeCode(body: unknown, status: number): number | null {
  if (typeof body !== "object" || body === null) return null;
  const { success, error, name, httpCode, internalCode, message } = body as Record<string, unknown>;
  const first = Array.isArray(error) ? (error[0] as { code?: unknown; message?: unknown } | undefined) : undefined;
  const complete =
    success === false &&
    name === "AiGatewayError" &&
    httpCode === status &&
    typeof internalCode === "number" &&
    typeof message === "string" &&
    message.length > 0 &&
    first?.code === internalCode &&
    first?.message === message;
  return complete ? (internalCode as number) : null;
}

export async function answerOf(response: Response): Promise<Answer> {
  const body = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(body);
  } catch {}
  const code = envelopeCode(parsed, response.status);
  return { status: response.status, code, envelope: code !== null, body, headers: response.headers };
}

/** `[status, code]` pairs a case may answer with, besides a provider's own 2xx. */
export type Allowed = readonly (readonly [number, number])[];

/**
 * Asserts `answer` is either a 2xx that did not come from the gateway's error path, or the envelope
 * with one of the `allowed` status/code pairs. `what` names the input in the failure.
 */
export function expectClear(answer: Pick<Answer, "status" | "code" | "envelope" | "body">, what: string, allowed: Allowed, options: { success?: boolean } = {}): void {
  const ok = (options.success ?? true) && answer.status >= 200 && answer.status < 300 && !answer.envelope;
  const documented = answer.envelope && allowed.some(([status, code]) => status === answer.status && code === answer.code);
  const got = { what, status: answer.status, code: answer.code, body: answer.body.slice(0, 300) };
  expect({ what, clear: ok || documented, ...(ok || documented ? {} : { got }) }).toEqual({ what, clear: true });
}

/** Asserts the gateway at `url` still answers `GET /health` with 200 and its JSON status. */
export async function expectAlive(url: string): Promise<void> {
  const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
  const body = (await response.json()) as { status?: unknown };
  expect({ status: response.status, health: typeof body.status }).toEqual({ status: 200, health: "string" });
}

/** Runs `work` over `items` with at most `limit` in flight, in order of `items` for the results. */
export async function inPool<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Polls `condition` every few ms until it holds; fails after `ms` naming `what`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
