/**
 * Starting the targets, one after the other, and checking each before any load: a target on Redis has
 * its round trips per request traced, a `stream` or `peer` target must answer one request right. A
 * peer (or a shared target without PostgreSQL and Redis) that cannot is reported as unavailable; one
 * of ours that cannot fails the run.
 */
import { EnginesUnavailable } from "./engines.ts";
import { probe } from "./measure.ts";
import type { Running } from "./processes.ts";
import { traceRoundTrips, type Trace } from "./replicas.ts";
import type { Target } from "./targets.ts";

/** What starting the targets leaves for the run; owned by the caller, which stops `running` in any case. */
export interface Started {
  /** The targets that started and passed their checks, by name. */
  running: Map<string, Running>;
  /** Redis round trips per request of the targets on Redis, traced before the load. */
  traces: Map<string, Trace>;
  /** Targets that could not run and why: printed under the table, no change to the exit code. */
  unavailable: Map<string, string>;
}

/** Starts `targets` against `upstream` into `started`; returns true when one of ours failed. */
export async function startTargets(targets: Target[], upstream: Running, { running, traces, unavailable }: Started): Promise<boolean> {
  let failed = false;
  for (const t of targets) {
    let r: Running | undefined;
    try {
      r = await t.start({ upstream });
      running.set(t.name, r);
    } catch (e) {
      const msg = (e as Error).message;
      if (e instanceof EnginesUnavailable) {
        console.error(`bench: ${t.name} unavailable: ${msg}`);
        unavailable.set(t.name, msg);
      } else if (t.peer) {
        console.error(`bench: ${t.name} unavailable: ${msg}`);
        // One line under the table: the first of the message and the child's last error line.
        const lines = msg.split("\n").map((l) => l.trim());
        const err = lines.slice(1).reverse().find((l) => /error/i.test(l));
        unavailable.set(t.name, lines[0]!.replace(/:$/, "") + (err ? ` (${err})` : ""));
      } else {
        console.error(`bench: ${msg}`);
        failed = true;
      }
      continue;
    }
    if (r.engines) {
      try {
        traces.set(t.name, await traceRoundTrips(t, r));
      } catch (e) {
        console.error(`bench: ${t.name}: ${(e as Error).message}`);
        failed = true;
        running.delete(t.name);
        await r.stop();
        continue;
      }
    }
    if (!t.stream && !t.peer) continue;
    const wrong = await probe(t, r);
    if (!wrong) continue;
    running.delete(t.name);
    await r.stop();
    if (t.peer) {
      console.error(`bench: ${t.name} unavailable: ${wrong}`);
      unavailable.set(t.name, wrong);
    } else {
      console.error(`bench: ${t.name}: ${wrong}`);
      failed = true;
    }
  }
  return failed;
}
