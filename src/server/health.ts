import type { FaultOptions, Health, HealthFault, HealthReport, Logger } from "../pipeline/types.ts";
import { consoleLogger } from "./logger.ts";

/** Options of {@link GatewayHealth}. */
export interface GatewayHealthOptions {
  /**
   * How long a component must go without failing after `recovered` before its fault ends. A disk that
   * is nearly full fails one write and takes the next: this keeps that flapping one burst, logged
   * once, instead of a pair of lines per request. @default 1000
   */
  settleMs?: number;
}

interface OpenFault {
  reason: string;
  count: number;
  since: number;
  last: number;
  /** When `recovered` was last called, if no failure came after it. */
  recoveredAt: number | null;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * The default {@link Health}: faults by component, each logged when its burst starts and when it
 * ends, counted in between. Created by `startGateway`, handed to the stores and to plugins
 * (`gateway.health`), answered by `GET /health`.
 *
 * @example
 * const health = new GatewayHealth(logger);
 * health.fault("cache", error, { during: "writing cached answers" }); // logs once
 * health.fault("cache", error, { during: "writing cached answers" }); // counted only
 * health.recovered("cache"); // after 1 s without failures: "cache: recovered after 2 failures …"
 * health.snapshot(); // { status: "degraded", faults: [{ component: "cache", count: 2, … }], stats: {} }
 */
export class GatewayHealth implements Health {
  readonly #faults = new Map<string, OpenFault>();
  readonly #sections = new Map<string, () => Record<string, number>>();
  readonly #settleMs: number;

  constructor(
    private readonly logger: Logger,
    options: GatewayHealthOptions = {},
  ) {
    this.#settleMs = options.settleMs ?? 1000;
  }

  fault(component: string, error: unknown, options: FaultOptions = {}): void {
    try {
      const now = Date.now();
      const reason = options.during ? `${options.during}: ${faultReason(error)}` : faultReason(error);
      let open = this.#faults.get(component);
      if (open) {
        open.count++;
        open.last = now;
        open.reason = reason;
        open.recoveredAt = null;
      } else {
        open = { reason, count: 1, since: now, last: now, recoveredAt: null, timer: null };
        this.#faults.set(component, open);
        this.logger.error(`${component}: ${reason}; further failures are counted in GET /health, not logged, until it recovers`, error);
      }
      if (options.recoverAfterMs !== undefined) this.#arm(component, open, options.recoverAfterMs);
    } catch {
      // Reporting a failure must never become one (a logger writing to a closed stderr).
    }
  }

  recovered(component: string): void {
    const open = this.#faults.get(component);
    if (!open || open.recoveredAt !== null) return;
    open.recoveredAt = Date.now();
    if (this.#settleMs <= 0) this.#end(component, open);
    else this.#arm(component, open, this.#settleMs);
  }

  section(name: string, read: () => Record<string, number>): void {
    this.#sections.set(name, read);
  }

  snapshot(): HealthReport {
    const faults: HealthFault[] = [];
    for (const [component, open] of this.#faults) {
      faults.push({ component, reason: open.reason, count: open.count, since: iso(open.since), last: iso(open.last) });
    }
    const stats: HealthReport["stats"] = {};
    for (const [name, read] of this.#sections) {
      try {
        stats[name] = read();
      } catch (error) {
        this.fault("health", error, { during: `reading the ${name} counters` });
      }
    }
    return { status: faults.length === 0 ? "ok" : "degraded", faults, stats };
  }

  /** (Re)starts the timer that ends the fault once it has been quiet for `ms`. */
  #arm(component: string, open: OpenFault, ms: number): void {
    if (open.timer) clearTimeout(open.timer);
    open.timer = setTimeout(() => {
      open.timer = null;
      const quietSince = open.recoveredAt ?? open.last;
      if (this.#faults.get(component) === open && Date.now() - quietSince >= ms - 1) this.#end(component, open);
    }, ms);
    open.timer.unref();
  }

  #end(component: string, open: OpenFault): void {
    if (open.timer) clearTimeout(open.timer);
    this.#faults.delete(component);
    try {
      const failures = open.count === 1 ? "1 failure" : `${open.count} failures`;
      this.logger.info(`${component}: recovered after ${failures} since ${iso(open.since)}`);
    } catch {
      // As in `fault`.
    }
  }
}

/** A health of its own, logging to stderr: what a store uses when it was made without one (tests, CLI commands). */
export function consoleHealth(): GatewayHealth {
  return new GatewayHealth(consoleLogger());
}

const iso = (ms: number) => new Date(ms).toISOString();

/** What the common codes mean, so a reason never needs an error's own message (which may hold a path). */
const CODE_TEXT: Record<string, string> = {
  SQLITE_FULL: "database or disk is full",
  SQLITE_IOERR: "disk I/O error",
  SQLITE_BUSY: "database is locked",
  SQLITE_LOCKED: "database table is locked",
  SQLITE_READONLY: "attempt to write a readonly database",
  SQLITE_CANTOPEN: "unable to open database file",
  SQLITE_CORRUPT: "database disk image is malformed",
  SQLITE_NOMEM: "out of memory",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EIO: "input/output error",
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EMFILE: "too many open files",
  ENOMEM: "out of memory",
};
const CODE = /^[A-Z][A-Z0-9_]{1,40}$/;
const NAME = /^[A-Za-z_$][\w$]{0,40}$/;

/**
 * A short description of an error that is safe to publish on an unauthenticated endpoint: its code
 * (`SQLITE_FULL (database or disk is full)`, `ENOSPC (…)`) or else its class (`TypeError`) — never its
 * message, which may quote a path, a URL or part of a request.
 */
export function faultReason(error: unknown): string {
  if (!(error instanceof Error)) return `a thrown ${error === null ? "null" : typeof error}`;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && CODE.test(code)) {
    // SQLITE_IOERR_WRITE is an SQLITE_IOERR: the extended codes share their base's text.
    const text = CODE_TEXT[code] ?? CODE_TEXT[code.split("_").slice(0, 2).join("_")];
    return text ? `${code} (${text})` : code;
  }
  return NAME.test(error.name) ? error.name : "Error";
}
