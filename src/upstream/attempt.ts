import type { RequestContext } from "../pipeline/context.ts";
import { ErrorCode, GatewayError } from "../pipeline/errors.ts";
import { integerOption } from "../pipeline/options.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import type { ResolvedConfig } from "../config/defaults.ts";
import { injectHeldKey } from "./credentials.ts";

const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/**
 * The chain's terminal: one upstream call for `ctx.step`. It resolves as soon as the provider's
 * headers arrive, with the body still streaming. The time-to-first-byte limit comes from
 * `cf-aig-request-timeout`, else the gateway's `requestTimeout`.
 */
export function upstreamAttempt(providers: ProviderRegistry, config: ResolvedConfig) {
  return async function attempt(ctx: RequestContext): Promise<Response> {
    const step = ctx.step;
    injectHeldKey(config, ctx);
    const url = providers.url(step.provider, ctx.accountId, step.endpoint, step.search);
    const timeout = integerOption(ctx, "cf-aig-request-timeout", { min: 1, max: MAX_TIMEOUT_MS }) ?? ctx.gateway.requestTimeout;
    const started = performance.now();
    const controller = timeout ? new AbortController() : null;
    const timer = controller ? setTimeout(() => controller.abort(), timeout) : null;
    const hasBody = step.body !== null && step.method !== "GET" && step.method !== "HEAD";
    try {
      const response = await fetch(url, {
        method: step.method,
        headers: step.headers,
        body: hasBody ? step.body : undefined,
        redirect: "manual",
        signal: controller?.signal,
      });
      const now = performance.now();
      ctx.ttfbMs = now - ctx.startedAt;
      ctx.attempts.push({ step: ctx.stepIndex, provider: ctx.provider, status: response.status, durationMs: now - started, ttfbMs: now - started });
      return response;
    } catch (cause) {
      const durationMs = performance.now() - started;
      const error = controller?.signal.aborted
        ? new GatewayError(504, ErrorCode.UpstreamTimeout, `${ctx.provider} sent no response within ${timeout} ms (cf-aig-request-timeout / requestTimeout)`, { cause })
        : new GatewayError(502, ErrorCode.UpstreamUnreachable, `Could not reach ${ctx.provider} at ${new URL(url).origin}: ${reason(cause)}`, { cause });
      ctx.attempts.push({ step: ctx.stepIndex, provider: ctx.provider, status: null, durationMs, ttfbMs: null, error: error.message });
      throw error;
    } finally {
      if (timer) clearTimeout(timer);
    }
  };
}

function reason(cause: unknown): string {
  if (cause instanceof Error) return (cause as { code?: string }).code ? `${(cause as { code?: string }).code}: ${cause.message}` : cause.message;
  return String(cause);
}
