import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { validateConfig } from "../../src/config/loader.ts";
import type { Config } from "../../src/sdk.ts";
import { consoleLogger } from "../../src/server/logger.ts";
import { startGateway, type RunningGateway } from "../../src/server/start.ts";

export interface TestGateway extends AsyncDisposable {
  url: string;
  /** `${url}/v1/local/{gateway}` — append `/{provider}/…`. */
  base(gateway?: string): string;
  dir: string;
  running: RunningGateway;
  /** Waits until every request so far has completed and its log row is written. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The real gateway on port 0 with a real SQLite file in a fresh temp dir. `upstream` points the
 * openai, anthropic and workers-ai providers and `custom-mock` at a mock provider.
 */
export async function startTestGateway(options: { config?: Config; upstream?: string; files?: Record<string, string> } = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-test-"));
  for (const [name, text] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const config: Config = { ...options.config };
  config.storage ??= { sqlite: join(dir, "switchboard.db") };
  if (options.upstream) config.providers = { ...mockProviders(options.upstream), ...config.providers };
  const resolved = validateConfig(config, null, dir);
  const running = await startGateway({ config: resolved, port: 0, logger: consoleLogger(true) });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    url: running.url,
    base: (gateway = "default") => `${running.url}/v1/local/${gateway}`,
    dir,
    running,
    async settle() {
      await running.pipeline.drain();
      await running.handle.stores.logs.flush();
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

export function mockProviders(upstream: string) {
  return {
    openai: { baseUrl: `${upstream}/v1` },
    anthropic: { baseUrl: upstream },
    "workers-ai": { baseUrl: `${upstream}/client/v4/accounts/{account}/ai/run` },
    "custom-mock": { baseUrl: `${upstream}/custom` },
  };
}
