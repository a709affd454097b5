/**
 * The bench's child processes. Every process is separate (Bun.spawn) and binds 127.0.0.1 on a port the
 * OS picks; each server prints `listening on http://127.0.0.1:PORT` and spawnServer reads it from its
 * stdout. Every child is tracked here, so that an interrupted or failed run kills them all.
 */
import { resolve } from "node:path";
import type { Subprocess } from "bun";
import type { SharedEngines } from "./engines.ts";

export const HERE = import.meta.dir;
export const REPO = resolve(HERE, "..");
export const BUN = process.execPath;
const START_TIMEOUT_MS = 20_000;

/** A target's server(s), started. */
export interface Running {
  url: string;
  pid: number;
  /** Request headers this instance needs (e.g. Portkey's, which name the mock's URL). */
  headers?: Record<string, string>;
  /** Several processes serving one config (gateway-shared): the load is split between them. */
  replicas?: Running[];
  /** The engines the replicas share; their CPU and commands are measured with each load run. */
  engines?: SharedEngines;
  /** Lines the process has written to stderr so far, and the last few (a gateway warns there when an engine fails). */
  stderr?(): { lines: number; tail: string[] };
  stop(): Promise<void>;
}

const children = new Set<Subprocess>();

/** Spawns a child with piped stdout and stderr, which killChildren kills until it is released. */
export function spawnTracked(cmd: string[], cwd: string, env?: Record<string, string>) {
  const proc = Bun.spawn(cmd, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  children.add(proc);
  return proc;
}

/** Forgets a child that has exited or been killed. */
export function release(proc: Subprocess) {
  children.delete(proc);
}

/** Drains a child's stream for its whole life (a full pipe would stall the child); keeps a tail. */
function drain(stream: ReadableStream<Uint8Array>, onLine?: (line: string) => void) {
  const tail: string[] = [];
  const decoder = new TextDecoder();
  let partial = "";
  (async () => {
    for await (const chunk of stream) {
      const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        onLine?.(line);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    }
  })().catch(() => {});
  return tail;
}

/** Spawns a server, waits for `http://127.0.0.1:PORT` on its stdout, returns it running. */
export async function spawnServer(name: string, cmd: string[], cwd = REPO, env?: Record<string, string>): Promise<Running> {
  const proc = spawnTracked(cmd, cwd, env);
  let found: (url: string) => void;
  const urlSeen = new Promise<string>((r) => (found = r));
  const outTail = drain(proc.stdout, (line) => {
    const m = /http:\/\/127\.0\.0\.1:\d+/.exec(line);
    if (m) found(m[0]);
  });
  let errLines = 0;
  const errTail = drain(proc.stderr, () => errLines++);
  let timer: Timer | undefined;
  const url = await Promise.race([
    urlSeen,
    proc.exited.then((code) => Promise.reject(new Error(`exited with code ${code}`))),
    new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`printed no URL within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    }),
  ])
    .catch(async (e: Error) => {
      proc.kill();
      await proc.exited;
      release(proc);
      const tail = [...outTail, ...errTail].filter(Boolean).slice(-15).join("\n  ");
      throw new Error(`${name} ${e.message}${tail ? `:\n  ${tail}` : ""}`);
    })
    .finally(() => clearTimeout(timer));
  return {
    url,
    pid: proc.pid,
    stderr: () => ({ lines: errLines, tail: errTail.slice(-3) }),
    async stop() {
      proc.kill();
      await Promise.race([proc.exited, Bun.sleep(3000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      release(proc);
    },
  };
}

/** SIGKILLs every child still tracked. */
export function killChildren() {
  for (const p of children) p.kill("SIGKILL");
  children.clear();
}

/** On SIGINT or SIGTERM: kill the children, exit 130 / 143. */
export function killChildrenOnSignals() {
  process.on("SIGINT", () => {
    killChildren();
    process.exit(130);
  });
  process.on("SIGTERM", () => {
    killChildren();
    process.exit(143);
  });
}
