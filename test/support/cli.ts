/**
 * The CLI as a user runs it: `bun src/main.ts …` or the compiled `dist/switchboard …` in a child
 * process, for tests of start-up, config errors and graceful stops.
 *
 * @example
 * await using server = await startServe(["bun", MAIN, "serve", "--config", file, "--port", "0"], { cwd: dir });
 * await fetch(`${server.url}/health`);
 * expect(await server.terminate()).toBe(0);
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** Absolute path of the CLI entry, so a child can run from any folder. */
export const MAIN = join(import.meta.dir, "../../src/main.ts");
export const BUN = process.execPath;

export interface Finished {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end. */
export async function run(cmd: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Finished> {
  const proc = Bun.spawn(cmd, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stderr };
}

export interface ServeProcess extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` from the banner's first line. */
  url: string;
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Everything printed so far. */
  output(): { stdout: string; stderr: string };
  /** SIGTERM, then the exit code once the process is gone. */
  terminate(): Promise<number>;
}

const LISTENING = /^Switchboard \S+ listening on (http:\/\/\S+)$/m;

/**
 * Starts a long-running `serve` and resolves once its first line says where it listens; rejects
 * with what it printed when it exits first.
 */
export async function startServe(cmd: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<ServeProcess> {
  const proc = Bun.spawn(cmd, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let stdout = "";
  let stderr = "";
  const listening = Promise.withResolvers<string>();
  const drain = async (stream: ReadableStream<Uint8Array>, onText: (text: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  };
  const outDone = drain(proc.stdout, (text) => {
    stdout += text;
    const match = LISTENING.exec(stdout);
    if (match) listening.resolve(match[1]);
  });
  const errDone = drain(proc.stderr, (text) => void (stderr += text));
  proc.exited.then(async (code) => {
    await Promise.all([outDone, errDone]);
    listening.reject(new Error(`${cmd.join(" ")} exited with ${code} before listening\nstdout:\n${stdout}\nstderr:\n${stderr}`));
  });
  const url = await listening.promise;
  const terminate = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
    const code = await proc.exited;
    await Promise.all([outDone, errDone]);
    return code;
  };
  return {
    url,
    proc,
    output: () => ({ stdout, stderr }),
    terminate,
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

/** A fresh temp folder holding `files`, removed at the end of the `using` block. */
export function tempFolder(files: Record<string, string> = {}): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), "switchboard-cli-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(path, name)), { recursive: true });
    writeFileSync(join(path, name), text);
  }
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}
