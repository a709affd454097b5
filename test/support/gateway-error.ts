import { expect } from "bun:test";

/** A ULID as `cf-aig-log-id` carries it: 26 Crockford base-32 characters. */
export const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** What the AiGatewayError envelope of `status` / `code` looks like, as a matcher (messages vary). */
export const envelopeOf = (status: number, code: number) => ({
  success: false,
  error: [{ code, message: expect.any(String) }],
  name: "AiGatewayError",
  httpCode: status,
  internalCode: code,
  message: expect.any(String),
});

/**
 * Asserts that `response` is the gateway's own refusal: the AiGatewayError envelope with this status
 * and code, and the ids every answer carries. Returns the message for further checks.
 */
export async function expectGatewayError(response: Response, status: number, code: number): Promise<string> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`expected an AiGatewayError envelope (${status}/${code}), got ${response.status}: ${text}`);
  }
  const message = (body as { message?: unknown }).message;
  expect({ status: response.status, body }).toEqual({ status, body: envelopeOf(status, code) });
  expect((body as { error: { message: string }[] }).error[0].message).toBe(message as string);
  expect(response.headers.get("content-type")).toContain("application/json");
  expect(response.headers.get("cf-aig-log-id")).toMatch(ULID);
  expect(response.headers.get("cf-aig-event-id")).toBeTruthy();
  return message as string;
}
