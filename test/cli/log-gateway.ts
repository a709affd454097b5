/**
 * For the `stats` and `logs` tests: a real `switchboard serve` child in front of a mock provider,
 * logging into a SQLite file in a temp folder, and a long-running CLI child whose output a test reads
 * until a line appears.
 */
import { join } from "node:path";
import { BUN, MAIN, startServe, tempFolder, type ServeProcess } from "../support/cli.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

export interface LogGateway extends AsyncDisposable {
  upstream: MockUpstream;
  server: ServeProcess;
  /** The config file the gateway and the CLI share. */
  config: string;
  /** The SQLite file the gateway writes. */
  database: string;
  /** A chat completion through the gateway (`gateway` default "default"); resolves to its log id and status. */
  chat(model: string, headers?: Record<string, string>, gateway?: string): Promise<{ id: string; status: number }>;
}

export async function startLogGateway(): Promise<LogGateway> {
  const upstream = await startMockUpstream();
  const dir = tempFolder({
    "gateway.config.ts": `import { defineConfig } from "switchboard";
export default defineConfig({
  storage: { sqlite: "./data/gateway.db" },
  providers: { openai: { baseUrl: "${upstream.url}/v1" } },
  gateways: { default: {}, other: { budgets: [{ usd: 5, interval: "1d", key: "gateway", name: "daily" }] } },
  plugins: ["cache", "logging"],
});
`,
  });
  const config = join(dir.path, "gateway.config.ts");
  const server = await startServe([BUN, MAIN, "serve", "--config", config, "--port", "0"], { cwd: dir.path }).catch(async (error) => {
    dir[Symbol.dispose]();
    await upstream.stop();
    throw error;
  });
  return {
    upstream,
    server,
    config,
    database: join(dir.path, "data/gateway.db"),
    async chat(model, headers = {}, gateway = "default") {
      const response = await fetch(`${server.url}/v1/local/${gateway}/openai/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-test", ...headers },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "how many requests today" }] }),
      });
      await response.arrayBuffer();
      return { id: response.headers.get("cf-aig-log-id")!, status: response.status };
    },
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await upstream.stop();
      dir[Symbol.dispose]();
    },
  };
}

export interface Follower extends AsyncDisposable {
  /** Resolves with everything printed so far once `pattern` matches it; rejects after `timeoutMs` or when the child exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stdout(): string;
  stderr(): string;
  /** Sends `signal`, then the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** Starts a CLI command that keeps running (`logs --follow`). */
export function startFollower(args: string[]): Follower {
  const proc = Bun.spawn([BUN, MAIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      add(decoder.decode(chunk, { stream: true }));
      for (const wake of waiters) wake();
    }
  };
  const done = Promise.all([pump(proc.stdout, (t) => void (out += t)), pump(proc.stderr, (t) => void (err += t))]).then(() => {
    for (const wake of waiters) wake();
  });
  return {
    stdout: () => out,
    stderr: () => err,
    async waitFor(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      // Bounded: each turn waits for more output (or the child's end, or the deadline).
      while (!pattern.test(out)) {
        if (proc.exitCode !== null) throw new Error(`the CLI exited (${proc.exitCode}) before printing ${pattern}\nstdout:\n${out}\nstderr:\n${err}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${pattern} within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`);
        const { promise, resolve } = Promise.withResolvers<void>();
        waiters.add(resolve);
        const timer = setTimeout(resolve, left);
        proc.exited.then(() => resolve());
        await promise;
        clearTimeout(timer);
        waiters.delete(resolve);
      }
      return out;
    },
    async stop(signal = "SIGINT") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const code = await proc.exited;
      await done;
      return code;
    },
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}
