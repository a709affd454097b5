import type { RequestContext } from "../pipeline/context.ts";
import { watch, unwatch } from "../pipeline/deadlines.ts";
import { ErrorCode, GatewayError, requestEnded } from "../pipeline/errors.ts";
import { integerOption } from "../pipeline/options.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import type { ResolvedConfig } from "../config/defaults.ts";
import { injectHeldKey } from "./credentials.ts";

const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/**
 * The chain's terminal: one upstream call for `ctx.step`. It resolves as soon as the provider's
 * headers arrive, with the body still streaming. The time-to-first-byte limit comes from
 * `cf-aig-request-timeout`, else the gateway's `requestTimeout` (default `server.requestTimeout`).
 * The request being ended (`ctx.abort`: the client left, or the gateway is stopping) aborts the
 * call at any stage, its body stream included.
 */
export function upstreamAttempt(providers: ProviderRegistry, config: ResolvedConfig) {
  return async function attempt(ctx: RequestContext): Promise<Response> {
    const step = ctx.step;
    injectHeldKey(config, ctx);
    const url = providers.url(step.provider, ctx.accountId, step.endpoint, step.search);
    const timeout = integerOption(ctx, "cf-aig-request-timeout", { min: 1, max: MAX_TIMEOUT_MS }) ?? ctx.gateway.requestTimeout;
    const started = performance.now();
    // Aborted by the request ending (ctx.abort) as well as by the first-byte limit below.
    const controller = ctx.upstreamCall();
    let timedOut = false;
    const firstByte = {
      check(now: number) {
        if (now - started < timeout) return false;
        timedOut = true;
        controller.abort();
        return true;
      },
    };
    watch(firstByte);
    const hasBody = step.body !== null && step.method !== "GET" && step.method !== "HEAD";
    try {
      const response = await fetch(url, {
        method: step.method,
        headers: step.headers,
        body: hasBody ? step.body : undefined,
        redirect: "manual",
        signal: controller.signal,
        // The gateway's own first-byte limit governs, not Bun's fetch timeout.
        timeout: false,
      });
      const now = performance.now();
      ctx.ttfbMs = now - ctx.startedAt;
      ctx.attempts.push({ step: ctx.stepIndex, provider: ctx.provider, status: response.status, durationMs: now - started, ttfbMs: now - started });
      return response;
    } catch (cause) {
      const durationMs = performance.now() - started;
      const error = failure(ctx, timedOut, timeout, cause);
      ctx.attempts.push({ step: ctx.stepIndex, provider: ctx.provider, status: null, durationMs, ttfbMs: null, error: error.message });
      throw error;
    } finally {
      unwatch(firstByte);
    }
  };
}

/** Why the call failed, as the client (and the record) should hear it. Never names the host reached. */
function failure(ctx: RequestContext, timedOut: boolean, timeout: number, cause: unknown): GatewayError {
  if (ctx.abortReason) return requestEnded(ctx.abortReason, "before the provider answered", cause);
  if (timedOut) return new GatewayError(504, ErrorCode.UpstreamTimeout, `${ctx.provider} sent no response within ${timeout} ms (cf-aig-request-timeout / requestTimeout)`, { cause });
  return new GatewayError(502, ErrorCode.UpstreamUnreachable, `Could not reach ${ctx.provider}: ${connectionFailure(cause)}`, { cause });
}

/** The error's code (ConnectionRefused, ECONNRESET, …): enough to act on, and it names no host. */
export function connectionFailure(cause: unknown): string {
  const code = cause instanceof Error ? (cause as { code?: unknown }).code : undefined;
  return typeof code === "string" && code !== "" ? code : "the connection failed";
}
