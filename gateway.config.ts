// The gateway `bun run start` serves. Every field is optional; `switchboard init` writes a fuller
// example. Check a change with `bun src/main.ts check`.
import { defineConfig } from "switchboard";

export default defineConfig({
  server: {
    hostname: "127.0.0.1",
    port: Number(process.env.PORT ?? 8787),
    // The logs API (/client/v4/…) is off until a token is set.
    adminToken: process.env.SWITCHBOARD_ADMIN_TOKEN,
  },
  storage: { sqlite: "./data/switchboard.db" },
  providers: {
    // Hold a key here and clients can call without one:
    // openai: { apiKey: process.env.OPENAI_API_KEY },
    // Your own OpenAI-compatible server, reachable as /v1/local/default/custom-local/…:
    // "custom-local": { baseUrl: "http://127.0.0.1:11434/v1" },
  },
  gateways: {
    // `default` is open: no token, logs on, no cache, no limits.
    default: {},
    // A locked-down gateway: `bun src/main.ts tokens create --gateway prod` prints a token.
    prod: {
      authentication: true,
      cache: { ttl: 300 },
      rateLimit: { limit: 600, interval: 60, technique: "sliding", key: "token" },
      logs: { maxRows: 1_000_000 },
    },
  },
  // Omitted: ["auth", "metadata", "cache", "budget", "rate-limit", "fallback", "logging"].
});
