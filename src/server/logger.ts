import type { Logger } from "../pipeline/types.ts";
import { describeError, redactUrls } from "../pipeline/redact.ts";

/** Plain lines on stderr; `quiet` keeps only errors (tests, benchmarks). URLs lose their query strings. */
export function consoleLogger(quiet = false): Logger {
  const time = () => new Date().toISOString();
  return {
    info: (message) => !quiet && console.error(`${time()} info  ${redactUrls(message)}`),
    warn: (message) => !quiet && console.error(`${time()} warn  ${redactUrls(message)}`),
    error: (message, error) => console.error(`${time()} error ${redactUrls(message)}${error === undefined ? "" : `\n${describeError(error)}`}`),
  };
}
