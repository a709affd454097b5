import { builtInPlugins } from "../../plugins/index.ts";
import type { ResolvedConfig } from "../config/defaults.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import type { GatewayHandle, Logger, Plugin } from "../pipeline/types.ts";
import { createRegistry } from "../providers/registry.ts";
import { openStores } from "../store/index.ts";
import { upstreamAttempt } from "../upstream/attempt.ts";
import { createApp } from "./app.ts";
import { consoleLogger } from "./logger.ts";

export interface StartOptions {
  config: ResolvedConfig;
  /** Overrides `server.port` (0 picks a free port). */
  port?: number;
  logger?: Logger;
}

export interface RunningGateway {
  url: string;
  port: number;
  handle: GatewayHandle;
  pipeline: Pipeline;
  /** Built-in names that the config lists but this version does not have. */
  unavailable: string[];
  /** Stops accepting, waits for requests in flight, closes plugins and flushes the stores. */
  stop(): Promise<void>;
}

/** How long a graceful stop waits for requests in flight before closing the stores anyway. */
const DRAIN_TIMEOUT_MS = 10_000;

export async function startGateway(options: StartOptions): Promise<RunningGateway> {
  const { config } = options;
  const logger = options.logger ?? consoleLogger();
  const storage = openStores(config, logger);
  const providers = createRegistry(config.providers);
  const handle: GatewayHandle = { config, stores: storage.stores, providers, logger };
  const { plugins, unavailable } = resolvePlugins(config.plugins);
  for (const plugin of plugins) {
    try {
      await plugin.setup?.(handle);
    } catch (error) {
      await storage.close();
      throw new Error(`Plugin "${plugin.name}" failed to set up: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  const pipeline = new Pipeline(plugins, upstreamAttempt(providers, config), logger);
  const app = createApp({ handle, pipeline });
  app.listen({
    hostname: config.server.hostname,
    port: options.port ?? config.server.port,
    // Above the gateway's own limit, so the gateway (413 envelope), not Bun, refuses large bodies.
    maxRequestBodySize: config.server.maxBodyBytes + 64 * 1024 * 1024,
    idleTimeout: 255,
    // Elysia turns SO_REUSEPORT on; a second gateway on a busy port must fail, not silently share it.
    reusePort: false,
  });
  const server = app.server!;
  let stopping: Promise<void> | null = null;
  return {
    url: `http://${server.hostname === "0.0.0.0" ? "127.0.0.1" : server.hostname}:${server.port}`,
    port: server.port!,
    handle,
    pipeline,
    unavailable,
    stop() {
      stopping ??= (async () => {
        server.stop(false);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_TIMEOUT_MS)));
        await Promise.race([pipeline.drain(), timeout]);
        clearTimeout(timer);
        for (const plugin of plugins) {
          try {
            await plugin.close?.();
          } catch (error) {
            logger.error(`plugin "${plugin.name}" failed to close`, error);
          }
        }
        await storage.close();
        server.stop(true);
      })();
      return stopping;
    },
  };
}

function resolvePlugins(entries: (string | Plugin)[]): { plugins: Plugin[]; unavailable: string[] } {
  const plugins: Plugin[] = [];
  const unavailable: string[] = [];
  for (const entry of entries) {
    if (typeof entry !== "string") plugins.push(entry);
    else if (builtInPlugins[entry]) plugins.push(builtInPlugins[entry]());
    else unavailable.push(entry);
  }
  return { plugins, unavailable };
}
