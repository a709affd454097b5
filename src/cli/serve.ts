import { loadConfig } from "../config/loader.ts";
import { GatewayHealth } from "../server/health.ts";
import { consoleLogger } from "../server/logger.ts";
import { guardProcess } from "../server/process-guard.ts";
import { startGateway } from "../server/start.ts";
import { VERSION } from "../version.ts";
import { stringFlag, UsageError, type Args, type Command } from "./args.ts";
import { CONFIG_FLAG } from "./common.ts";
import { describeStorage } from "../store/describe.ts";

/** `switchboard serve [--config PATH] [--port N]`: runs until SIGINT/SIGTERM, then stops gracefully. */
export const serveCommand: Command = {
  name: "serve",
  synopsis: "[--config PATH] [--port N]",
  summary: "start the gateway (the default command); SIGINT/SIGTERM stop it gracefully",
  flags: { config: CONFIG_FLAG, port: { type: "string", value: "N", help: "listen on this port (0: any free one); default server.port" } },
  run: serve,
};

async function serve(args: Args): Promise<void> {
  const config = await loadConfig(stringFlag(args, "config"));
  const portFlag = stringFlag(args, "port");
  const port = portFlag === undefined ? undefined : Number(portFlag);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError(`--port must be a whole number from 0 to 65535; got "${portFlag}"`, serveCommand);
  const logger = consoleLogger();
  const health = new GatewayHealth(logger);
  // Before start-up, so a plugin's setup is covered: from here on no stray rejection or throw ends the process.
  const unguard = guardProcess(health);
  const gateway = await startGateway({ config, port, logger, health }).catch((error: unknown) => {
    unguard();
    throw error;
  });
  const plugins = gateway.pipeline.plugins.map((plugin) => plugin.name);
  console.log(`Switchboard ${VERSION} listening on ${gateway.url}`);
  console.log(`  config    ${config.configPath ?? "built-in default (no gateway.config.ts here; `switchboard init` writes one)"}`);
  for (const line of describeStorage(config)) console.log(`  ${line}`);
  console.log(`  gateways  ${[...config.gateways.keys()].join(", ")}`);
  console.log(`  plugins   ${plugins.join(" → ") || "(none)"}`);
  if (gateway.unavailable.length) console.log(`            not in this version: ${gateway.unavailable.join(", ")}`);
  console.log(`  admin API ${config.server.adminToken ? `${gateway.url}/client/v4 (Bearer server.adminToken)` : "off — set server.adminToken or SWITCHBOARD_ADMIN_TOKEN"}`);
  console.log(`  try       curl ${gateway.url}/v1/${config.accountId ?? "local"}/default/openai/chat/completions -H "Authorization: Bearer $OPENAI_API_KEY" -H "Content-Type: application/json" -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'`);
  const { promise, resolve } = Promise.withResolvers<void>();
  const shutdown = (signal: string) => {
    console.log(`${signal}: stopping; waiting for requests in flight and flushing logs…`);
    gateway.stop().then(resolve);
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  await promise;
  console.log("stopped");
}
