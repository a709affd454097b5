import { ErrorCode, GatewayError, integerOption, type RequestContext, type ResolvedGateway } from "switchboard";

/** Most attempts one step may make (Cloudflare's cap). */
export const MAX_ATTEMPTS = 5;
/** Longest wait before a retry, in ms, whatever the backoff or `Retry-After` ask for (Cloudflare's cap). */
export const MAX_DELAY_MS = 5000;

export type Backoff = ResolvedGateway["retry"]["backoff"];
const BACKOFFS: readonly Backoff[] = ["constant", "linear", "exponential"];

/** How one step retries. */
export interface StepPolicy {
  /** Attempts, the first included (1–5). */
  maxAttempts: number;
  /** Base delay before a retry, in ms (0–5000). */
  delayMs: number;
  backoff: Backoff;
}

/**
 * The retry policy of every step, read and validated before anything is sent: a step's own
 * `cf-aig-max-attempts` / `cf-aig-retry-delay` / `cf-aig-backoff` (a Universal step's `config`), then
 * the request's headers, then the gateway's `retry` config. An unusable value is 400/2104 naming the
 * header (and the step, when the value is that step's own).
 */
export function readPolicies(ctx: RequestContext): StepPolicy[] {
  // The common request: one step, none of the three headers, no step options — the gateway's policy
  // as it is, without three option look-ups and validations (measured ≈ 1.5 µs a request).
  if (ctx.steps.length === 1 && !ctx.steps[0].options && !RETRY_HEADERS.some((name) => ctx.headers.has(name))) return [gatewayPolicy(ctx.gateway)];
  const current = ctx.stepIndex;
  try {
    return ctx.steps.map((_, index) => {
      ctx.stepIndex = index;
      return readPolicy(ctx);
    });
  } finally {
    ctx.stepIndex = current;
  }
}

const RETRY_HEADERS = ["cf-aig-max-attempts", "cf-aig-retry-delay", "cf-aig-backoff"] as const;
const gatewayPolicies = new WeakMap<ResolvedGateway, StepPolicy[]>();

/** The gateway's own retry policy, one frozen object per gateway. */
function gatewayPolicy(gateway: ResolvedGateway): StepPolicy {
  let policies = gatewayPolicies.get(gateway);
  if (!policies) {
    const { maxAttempts, delayMs, backoff } = gateway.retry;
    gatewayPolicies.set(gateway, (policies = [Object.freeze({ maxAttempts, delayMs, backoff })]));
  }
  return policies[0];
}

function readPolicy(ctx: RequestContext): StepPolicy {
  const retry = ctx.gateway.retry;
  return {
    maxAttempts: named(ctx, "cf-aig-max-attempts", () => integerOption(ctx, "cf-aig-max-attempts", { min: 1, max: MAX_ATTEMPTS })) ?? retry.maxAttempts,
    delayMs: named(ctx, "cf-aig-retry-delay", () => integerOption(ctx, "cf-aig-retry-delay", { min: 0, max: MAX_DELAY_MS })) ?? retry.delayMs,
    backoff: named(ctx, "cf-aig-backoff", () => backoffOption(ctx)) ?? retry.backoff,
  };
}

function backoffOption(ctx: RequestContext): Backoff | undefined {
  const raw = ctx.option("cf-aig-backoff");
  if (raw === null || raw.trim() === "") return undefined;
  const value = raw.trim().toLowerCase() as Backoff;
  if (BACKOFFS.includes(value)) return value;
  const shown = raw.length > 60 ? `${raw.slice(0, 60)}…` : raw;
  throw new GatewayError(400, ErrorCode.InvalidHeader, `Header cf-aig-backoff must be constant, linear or exponential; got "${shown}"`);
}

/** With several steps, a refusal of a step's own value says which step it came from. */
function named<T>(ctx: RequestContext, header: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof GatewayError) || ctx.steps.length < 2 || !ctx.step.options?.has(header)) throw error;
    const message = error.message.replace(`Header ${header}`, `Header ${header} (step ${ctx.stepIndex})`);
    throw new GatewayError(error.status, error.code, message);
  }
}

/** A provider answer that counts as a failure: a status in `retry.statuses`, by default 429 and every 5xx. */
export function isFailedAnswer(status: number, statuses: ReadonlySet<number> | null): boolean {
  return statuses ? statuses.has(status) : status === 429 || status >= 500;
}

/** An upstream call that failed in a way another try may fix: unreachable (2110) or no first byte in time (2111). */
export function isFailedCall(error: unknown): error is GatewayError {
  return error instanceof GatewayError && (error.code === ErrorCode.UpstreamUnreachable || error.code === ErrorCode.UpstreamTimeout);
}
