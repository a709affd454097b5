import { MAX_DELAY_MS, type StepPolicy } from "./policy.ts";

/** Waits `ms`, or rejects as soon as `signal` aborts. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** The wait before retry `retry` (1 for the second attempt): constant d, linear d×n, exponential d×2ⁿ⁻¹; at most 5000 ms. */
export function backoffDelay(retry: number, policy: StepPolicy): number {
  const { delayMs: d, backoff } = policy;
  const delay = backoff === "linear" ? d * retry : backoff === "exponential" ? d * 2 ** (retry - 1) : d;
  return Math.min(delay, MAX_DELAY_MS);
}

/**
 * The wait before retrying after a failed answer: the backoff, or what the provider asked for when
 * that is longer — `retry-after-ms` (OpenAI, Azure), else `Retry-After` in seconds or as an HTTP
 * date — never more than 5000 ms.
 */
export function retryDelay(retry: number, policy: StepPolicy, failed: Headers | null, now: number): number {
  const asked = failed ? askedDelay(failed, now) : null;
  return Math.min(Math.max(backoffDelay(retry, policy), asked ?? 0), MAX_DELAY_MS);
}

const NUMBER = /^\d+(\.\d+)?$/;

function askedDelay(headers: Headers, now: number): number | null {
  const ms = headers.get("retry-after-ms")?.trim();
  if (ms && NUMBER.test(ms)) return Number(ms);
  const value = headers.get("retry-after")?.trim();
  if (!value) return null;
  if (NUMBER.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The default {@link Sleep}: a timer, cleared when the signal aborts. */
export const sleep: Sleep = function sleep(ms, signal) {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, ms);
    function stop() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", stop, { once: true });
  });
};
