import type { Logger } from "../pipeline/types.ts";

/** Plain lines on stderr; `quiet` keeps only errors (tests, benchmarks). */
export function consoleLogger(quiet = false): Logger {
  const time = () => new Date().toISOString();
  return {
    info: (message) => !quiet && console.error(`${time()} info  ${message}`),
    warn: (message) => !quiet && console.error(`${time()} warn  ${message}`),
    error: (message, error) => console.error(`${time()} error ${message}`, ...(error === undefined ? [] : [error])),
  };
}
