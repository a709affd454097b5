import {
  definePlugin,
  ErrorCode,
  GatewayError,
  requestEnded,
  type BreakerPermit,
  type BreakerSettings,
  type BreakerStore,
  type BreakerTarget,
  type Health,
  type RequestContext,
} from "switchboard";
import { retryDelay, sleep, type Sleep } from "./backoff.ts";
import { isFailedAnswer, isFailedCall, readPolicies } from "./policy.ts";
import { describeTarget, stepTarget } from "./target.ts";

export { backoffDelay, retryDelay, type Sleep } from "./backoff.ts";
export { MAX_ATTEMPTS, MAX_DELAY_MS, type StepPolicy } from "./policy.ts";

/** Options of {@link fallback}; the built-in `"fallback"` uses the defaults. */
export interface FallbackOptions {
  /** The breakers' clock, in epoch ms; tests move it past a cooldown without sleeping. @default Date.now */
  now?: () => number;
  /** How a retry waits; it must reject when the signal aborts. @default a timer, cleared when the request is ended */
  sleep?: Sleep;
  /** Where breaker state lives. @default `gateway.stores.breakers`, from `setup` */
  breakers?: BreakerStore;
}

/** The last failure so far: the provider's answer, or why the call failed. */
type Failure = { step: number; response: Response; error?: never } | { step: number; error: GatewayError; response?: never };

/**
 * Retries, fallback across steps and the circuit breaker (built-in `"fallback"`). Steps are tried in
 * order; each gets up to `cf-aig-max-attempts` attempts (else the gateway's `retry.maxAttempts`, 1),
 * `cf-aig-retry-delay` apart (else `retry.delay`, 0 ms) growing by `cf-aig-backoff` (else
 * `retry.backoff`, constant), at most 5 attempts and 5000 ms. A failure is the provider unreachable
 * (2110), no first byte in time (2111), or an answer whose status is in `retry.statuses` (429 and
 * every 5xx by default); any other answer is returned as is, and any other error ends the request.
 *
 * Each target (gateway, provider, base URL, model) has a circuit breaker: `breaker.failures` failures
 * within `breaker.window` open it, and it is skipped for `breaker.cooldown`; then one request probes it.
 * A step whose target is open, or failed earlier in the same request, is skipped. When every step
 * failed, the last failure reaches the client (a provider's error untouched); when none could be
 * tried, 503/2115 with `Retry-After`.
 *
 * @example
 * gateways: { prod: { retry: { maxAttempts: 3, delay: 200, backoff: "exponential" }, breaker: { failures: 5, window: 60, cooldown: 30 } } }
 */
export function fallback(options: FallbackOptions = {}) {
  const now = options.now ?? Date.now;
  const wait = options.sleep ?? sleep;
  let store: BreakerStore | null = options.breakers ?? null;
  let health: Health | null = null;
  let faulty = false;
  /** The target that served each request, for a stream that breaks later. */
  const served = new WeakMap<RequestContext, BreakerTarget>();

  // A breaker store that fails (a shared store out of reach) must not fail requests: calls go through
  // as if every breaker were closed, and the fault shows in GET /health.
  async function guarded<T>(during: string, call: (store: BreakerStore) => Promise<T>, otherwise: T): Promise<T> {
    if (!store) throw new Error("no breaker store: the plugin was not set up");
    try {
      const result = await call(store);
      if (faulty) {
        faulty = false;
        health?.recovered("breakers");
      }
      return result;
    } catch (error) {
      faulty = true;
      health?.fault("breakers", error, { during });
      return otherwise;
    }
  }
  const allow = (target: BreakerTarget, settings: BreakerSettings) =>
    guarded<BreakerPermit>("checking a circuit breaker", (s) => s.allow(target, settings, now()), { allowed: true, probe: false });
  const success = (target: BreakerTarget) => guarded("recording a success", (s) => s.success(target, now()), undefined);
  const failure = (target: BreakerTarget, settings: BreakerSettings) => guarded("recording a failure", (s) => s.failure(target, settings, now()), undefined);
  const release = (target: BreakerTarget, permit: BreakerPermit) => (permit.allowed && permit.probe ? guarded("releasing a probe", (s) => s.release(target, now()), undefined) : undefined);

  return definePlugin({
    name: "fallback",
    callsNextRepeatedly: true,
    // Its own time includes the waits between retries, bounded by the 5000 ms cap per retry.
    timeout: 0,
    setup(gateway) {
      store = options.breakers ?? gateway.stores.breakers;
      health = gateway.health;
    },
    async handle(ctx, next) {
      const policies = readPolicies(ctx);
      const settings = ctx.gateway.breaker;
      const statuses = ctx.gateway.retry.statuses;
      const failedTargets = new Set<string>();
      const blocked: { target: BreakerTarget; retryAt: number }[] = [];
      let last: Failure | null = null;
      // The last failed answer while its body is still open: cancelled as soon as another call follows.
      let held: Response | null = null;
      const discard = () => {
        held?.body?.cancel().catch(() => {});
        held = null;
      };

      for (let index = 0; index < ctx.steps.length; index++) {
        ctx.stepIndex = index;
        const step = stepTarget(ctx, index);
        const { target } = step;
        if (failedTargets.size > 0 && failedTargets.has(step.key)) {
          skip(ctx, "skipped: target failed earlier in this request");
          continue;
        }
        let permit = await allow(target, settings);
        if (!permit.allowed) {
          skip(ctx, "skipped: circuit open");
          blocked.push({ target, retryAt: permit.retryAt });
          continue;
        }
        for (let attempt = 1; ; attempt++) {
          discard();
          let outcome: Response | GatewayError;
          try {
            outcome = await next();
          } catch (error) {
            if (!isFailedCall(error)) {
              await release(target, permit);
              throw error;
            }
            outcome = error;
          }
          if (outcome instanceof Response && !isFailedAnswer(outcome.status, statuses)) {
            // Only a half-open breaker's probe changes state on success; for a closed breaker it would
            // only tidy failures that age out anyway (a store call, a Redis round trip, saved).
            if (permit.allowed && permit.probe) await success(target);
            served.set(ctx, target);
            return outcome;
          }
          await failure(target, settings);
          failedTargets.add(step.key);
          if (outcome instanceof Response) last = { step: index, response: (held = outcome) };
          else last = { step: index, error: outcome };
          if (attempt >= policies[index].maxAttempts) break;
          // The breaker may have opened on this very failure: then this step is done.
          permit = await allow(target, settings);
          if (!permit.allowed) break;
          const delay = retryDelay(attempt, policies[index], held?.headers ?? null, now());
          discard();
          if (delay > 0) {
            try {
              await pause(ctx, wait, delay);
            } catch (error) {
              await release(target, permit);
              throw error;
            }
          }
        }
      }
      if (last) {
        ctx.stepIndex = last.step;
        if (last.error) throw last.error;
        return last.response;
      }
      ctx.stepIndex = 0;
      throw circuitOpen(blocked, now());
    },
    async onComplete(record, ctx) {
      const target = served.get(ctx);
      if (target && record.error?.code === ErrorCode.StreamBroken) await failure(target, ctx.gateway.breaker);
    },
  });
}

function skip(ctx: RequestContext, reason: string): void {
  ctx.attempts.push({ step: ctx.stepIndex, provider: ctx.provider, status: null, durationMs: 0, ttfbMs: null, error: reason });
}

/** Waits before a retry; the request being ended (client gone, shutdown) ends the wait with the matching error. */
async function pause(ctx: RequestContext, wait: Sleep, ms: number): Promise<void> {
  try {
    await wait(ms, ctx.signal);
  } catch (error) {
    throw ended(ctx) ?? error;
  }
  const error = ended(ctx);
  if (error) throw error;
}

function ended(ctx: RequestContext): GatewayError | null {
  return ctx.abortReason ? requestEnded(ctx.abortReason, "while the gateway waited to retry") : null;
}

function circuitOpen(blocked: { target: BreakerTarget; retryAt: number }[], now: number): GatewayError {
  const first = Math.min(...blocked.map((b) => b.retryAt));
  const seconds = Math.max(1, Math.ceil((first - now) / 1000));
  const names = [...new Set(blocked.map((b) => describeTarget(b.target)))];
  const message = `No step could be tried: the circuit breaker is open for ${names.join(", ")}; retry in ${seconds} s`;
  return new GatewayError(503, ErrorCode.CircuitOpen, message, { headers: { "retry-after": String(seconds) } });
}
