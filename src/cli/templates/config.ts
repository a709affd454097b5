/** The commented gateway.config.ts that `switchboard init` writes. */
export const CONFIG_TEMPLATE = `// Switchboard configuration. Every field is optional; this file shows the common ones.
// Check it with \`switchboard check\`; start with \`switchboard serve\`.
import { defineConfig } from "switchboard";
import requireUser from "./plugins/require-user.ts";

export default defineConfig({
  // When set, request paths /v1/{account}/… must use this account id.
  accountId: "local",

  server: {
    hostname: "127.0.0.1",
    port: 8787,
    // Bearer token for the logs API (/client/v4/…); the admin API is off without one.
    adminToken: process.env.SWITCHBOARD_ADMIN_TOKEN,
  },

  // Where logs, cache entries and gateway tokens live (relative to this file).
  storage: { sqlite: "./data/switchboard.db" },

  // Override a provider's upstream, hold its key, or add your own provider as custom-{name}.
  providers: {
    // openai: { apiKey: process.env.OPENAI_API_KEY },
    // "custom-local": { baseUrl: "http://127.0.0.1:11434/v1" },
  },

  gateways: {
    // \`default\` always exists; list it to change its settings.
    default: {},
    prod: {
      authentication: true, // clients send cf-aig-authorization: Bearer <token>
      // tokens: [{ name: "ci", token: process.env.PROD_GATEWAY_TOKEN! }],
      cache: { ttl: 300 },
      rateLimit: { limit: 100, interval: 60, technique: "sliding" },
      logs: { collect: true, payloads: true, maxRows: 1_000_000 },
      // Retries of every step (the fallback plugin); a failing provider + model is skipped for a while.
      retry: { maxAttempts: 2, delay: 200, backoff: "exponential" },
      breaker: { failures: 5, window: 60, cooldown: 30 },
    },
  },

  // Model routes for the OpenAI-compatible endpoint (/v1/{account}/{gateway}/compat), as model "dynamic/support":
  // routes: { support: { strategy: "fallback", targets: [{ model: "anthropic/claude-sonnet-4-5" }, { model: "openai/gpt-4o-mini" }] } },

  // The ordered plugin chain: built-ins by name, your own plugins as objects.
  // plugins/moderate.ts asks an external moderation service about each prompt: import it like
  // requireUser and add it after "metadata" (set MODERATION_URL). "guardrails" (regex, keyword, e-mail,
  // card, IBAN, phone and API-key rules per gateway) goes after "metadata", before "cache".
  plugins: ["auth", "metadata", "cache", "budget", "rate-limit", "fallback", "logging", requireUser],
});
`;

/** The example plugin that `switchboard init` writes to plugins/require-user.ts. */
export const PLUGIN_TEMPLATE = `// An example plugin: refuse requests whose cf-aig-metadata carries no "user".
// Plugins are onion middleware: return your own Response, or \`await next()\`.
import { definePlugin } from "switchboard";

export default definePlugin({
  name: "require-user",
  async handle(ctx, next) {
    // Only on the prod gateway, so the default gateway stays open for a first try.
    if (ctx.gatewayId === "prod" && !ctx.metadata.user) {
      return ctx.error(400, 2200, 'cf-aig-metadata must carry a "user", e.g. {"user":"alice"}');
    }
    const response = await next();
    response.headers.set("x-served-by", "switchboard");
    return response;
  },
  onComplete(record) {
    // Runs after the answer was delivered; never delays the client.
    if (!record.success) console.error(\`\${record.provider} \${record.model ?? ""} → \${record.status}\`);
  },
});
`;

/** The example plugin that \`switchboard init\` writes to plugins/moderate.ts (not in the chain until the config adds it). */
export const MODERATION_PLUGIN_TEMPLATE = `// An example plugin: ask an external moderation service about each prompt, and refuse the ones it flags.
// The service gets POST {"input": "<the request body>"} and answers {"flagged": true | false}.
// Add it to gateway.config.ts: import moderate from "./plugins/moderate.ts"; plugins: ["auth", "metadata", moderate, …]
import { definePlugin } from "switchboard";

export default definePlugin({
  name: "moderate",
  // One moderation call per request; the plugin's time limit (server.pluginTimeout) bounds it.
  async handle(ctx, next) {
    const url = process.env.MODERATION_URL;
    const body = ctx.step.body;
    if (!url || !body) return next();
    const answer = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: new TextDecoder().decode(body) }),
      signal: ctx.signal,
    });
    if (!answer.ok) return ctx.error(503, 2201, \`the moderation service answered \${answer.status}\`);
    const verdict = (await answer.json()) as { flagged?: boolean };
    // 424/2016: Cloudflare's "prompt blocked" code, so clients handle it like a guardrail refusal.
    if (verdict.flagged === true) return ctx.error(424, 2016, "Prompt blocked due to security configurations (moderation)");
    return next();
  },
});
`;

export const TSCONFIG_TEMPLATE = `{
  "compilerOptions": {
    "target": "ESNext",
    "module": "Preserve",
    "moduleResolution": "bundler",
    "strict": true,
    "noEmit": true,
    "allowImportingTsExtensions": true,
    "skipLibCheck": true,
    "types": []
  },
  "include": ["gateway.config.ts", "plugins", "switchboard.d.ts"]
}
`;
