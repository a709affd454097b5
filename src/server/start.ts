import { builtInPlugins } from "../../plugins/index.ts";
import type { ResolvedConfig } from "../config/defaults.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import type { GatewayHandle, Health, Logger, Plugin } from "../pipeline/types.ts";
import { createRegistry } from "../providers/registry.ts";
import { openStores } from "../store/index.ts";
import { upstreamAttempt } from "../upstream/attempt.ts";
import { createApp } from "./app.ts";
import { BodyBudget } from "./body.ts";
import { OpenSockets, websocketHandlers } from "./ws/session.ts";
import { GatewayHealth } from "./health.ts";
import { consoleLogger } from "./logger.ts";
import { RequestMetrics } from "./metrics/registry.ts";
import { SpanExporter } from "./otel/exporter.ts";

export interface StartOptions {
  config: ResolvedConfig;
  /** Overrides `server.port` (0 picks a free port). */
  port?: number;
  logger?: Logger;
  /** Where background failures are reported (`serve` makes it first, to guard the process with it). @default a new GatewayHealth on the logger */
  health?: Health;
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

/** After the drain deadline ended the requests still running, how long their records may take to be built. */
const ABORTED_SETTLE_MS = 5_000;

export async function startGateway(options: StartOptions): Promise<RunningGateway> {
  const { config } = options;
  const logger = options.logger ?? consoleLogger();
  const health = options.health ?? new GatewayHealth(logger);
  const storage = await openStores(config, logger, health);
  const providers = createRegistry(config.providers);
  const handle: GatewayHandle = { config, stores: storage.stores, providers, logger, health };
  const { plugins, unavailable } = resolvePlugins(config.plugins);
  for (const plugin of plugins) {
    try {
      await plugin.setup?.(handle);
    } catch (error) {
      await storage.close();
      throw new Error(`Plugin "${plugin.name}" failed to set up: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  const { server: settings } = config;
  const metrics = settings.metrics === "off" ? null : new RequestMetrics({ gateways: config.gateways.keys() });
  const otel = settings.otel ? new SpanExporter(settings.otel, health) : null;
  const pipeline = new Pipeline(plugins, upstreamAttempt(providers, config), logger, {
    timeoutOf: (plugin) => settings.pluginTimeouts[plugin.name] ?? plugin.timeout ?? settings.pluginTimeout,
    observers: [metrics?.observer, otel?.observer].filter((observer) => observer !== undefined),
  });
  const bodies = {
    limits: { maxBytes: settings.maxBodyBytes, minRate: settings.minBodyRate, rateWindowMs: settings.bodyRateWindow },
    budget: new BodyBudget(settings.bodyMemoryBytes),
  };
  const sockets = new OpenSockets();
  const app = createApp({ handle, pipeline, bodies, sockets }, metrics);
  app.listen({
    hostname: config.server.hostname,
    port: options.port ?? config.server.port,
    // Bun's own limit answers a bare 413; the gateway counts bodies itself and answers with the envelope.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    idleTimeout: 255,
    // Elysia turns SO_REUSEPORT on; a second gateway on a busy port must fail, not silently share it.
    reusePort: false,
    websocket: websocketHandlers({ maxPayloadLength: settings.websocket.maxFrameBytes, idleTimeout: settings.websocket.idleTimeout }),
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
        sockets.closing = true;
        server.stop(false);
        // In-flight requests, streams included, get `drainTimeout`; then they are ended, and recorded as such.
        if (!(await within(pipeline.drain(), settings.drainTimeout))) {
          logger.warn(`${pipeline.inFlight} request(s) still running after server.drainTimeout (${settings.drainTimeout} ms); ending them`);
          pipeline.abortAll("shutdown");
          if (!(await within(pipeline.drain(), ABORTED_SETTLE_MS))) logger.error(`${pipeline.inFlight} request(s) did not end; their records are lost`);
        }
        // Open WebSockets are closed once their requests have finished.
        sockets.closeAll(1001, "the gateway is stopping");
        for (const plugin of plugins) {
          try {
            await plugin.close?.();
          } catch (error) {
            logger.error(`plugin "${plugin.name}" failed to close`, error);
          }
        }
        try {
          await otel?.close();
        } catch (error) {
          logger.error("could not send the last spans", error);
        }
        await storage.close();
        server.stop(true);
      })();
      return stopping;
    },
  };
}

/** True when `promise` settled within `ms`. */
async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
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
