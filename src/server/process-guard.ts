import type { Health } from "../pipeline/types.ts";

/** A burst of unhandled errors ends after this long without one: nothing else can say the process is well again. */
const QUIET_MS = 60_000;

/**
 * Makes an unhandled promise rejection or an exception thrown from a timer or callback (a user plugin's,
 * a library's) a fault of the `"process"` component — logged once per burst, counted in `GET /health` —
 * instead of the end of the process. `serve` installs it before the gateway starts, so a plugin's
 * `setup` is covered too.
 *
 * @returns a function that removes the handlers
 * @example
 * const unguard = guardProcess(health);
 */
export function guardProcess(health: Health): () => void {
  const onRejection = (reason: unknown) => health.fault("process", reason, { during: "unhandled promise rejection", recoverAfterMs: QUIET_MS });
  const onException = (error: unknown) => health.fault("process", error, { during: "uncaught exception", recoverAfterMs: QUIET_MS });
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return function unguard() {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  };
}
