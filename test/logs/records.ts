import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../src/pipeline/types.ts";
import type { MessageSide, RequestRecord } from "../../src/pipeline/record.ts";

const encoder = new TextEncoder();

/** A message side carrying `body` (JSON-encoded unless it is already a string). */
export function side(body: unknown, contentType = "application/json", headers: Record<string, string> = {}): MessageSide {
  const bytes = body === null ? null : encoder.encode(typeof body === "string" ? body : JSON.stringify(body));
  return { headers: { "content-type": contentType, ...headers }, contentType, size: bytes?.length ?? 0, body: bytes, truncated: false };
}

let sequence = 0;

/** A complete record with plausible values; override what a test is about. */
export function makeRecord(overrides: Partial<RequestRecord> = {}): RequestRecord {
  sequence++;
  const id = overrides.logId ?? `01J${String(sequence).padStart(23, "0")}`;
  return {
    logId: id,
    eventId: `event-${sequence}`,
    gatewayId: "default",
    accountId: "acc",
    createdAt: Date.UTC(2026, 0, 1) + sequence * 1000,
    requestType: "provider",
    provider: "openai",
    model: "gpt-4o-mini",
    path: "chat/completions",
    method: "POST",
    step: 0,
    status: 200,
    success: true,
    cached: false,
    durationMs: 120,
    ttfbMs: 80,
    usage: { tokensIn: 10, tokensOut: 5, cacheReadTokens: 0, cacheWriteTokens: 0 },
    cost: 0.001,
    customCost: false,
    metadata: {},
    userAgent: "openai-node/5",
    tokenId: null,
    error: null,
    aborted: false,
    attempts: [{ step: 0, provider: overrides.provider ?? "openai", status: 200, durationMs: 120, ttfbMs: 80 }],
    request: side({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    response: side({ id: "chatcmpl-1", choices: [{ message: { role: "assistant", content: "hello" } }] }),
    collectLog: true,
    collectPayload: true,
    ...overrides,
  };
}

/** A logger that remembers what it was told. */
export function memoryLogger(): Logger & { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  return {
    errors,
    warnings,
    info() {},
    warn: (message) => void warnings.push(message),
    error: (message) => void errors.push(message),
  };
}

/** A temp folder removed at the end of the `using` block. */
export function tempDir(): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), "switchboard-logs-"));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}
