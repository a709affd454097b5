import type { ResolvedConfig } from "../config/defaults.ts";
import { loadConfig } from "../config/loader.ts";
import { openPostgres } from "../store/postgres/db.ts";
import { PostgresTokenStore } from "../store/postgres/tokens.ts";
import { openDatabase } from "../store/sqlite/db.ts";
import { SqliteTokenStore } from "../store/sqlite/tokens.ts";
import { ExpiryError, parseExpiry, tokenStatus, type GatewayToken, type TokenStore } from "../store/tokens.ts";
import { booleanFlag, stringFlag, UsageError, type Args, type Command } from "./args.ts";
import { CONFIG_FLAG as CONFIG, JSON_FLAG, requireGateway } from "./common.ts";
import { table as formatTable } from "./table.ts";

/** `switchboard tokens create|list|revoke`: manage gateway tokens in the config's SQLite file, or in PostgreSQL when `storage.postgres` is set. */
export const tokenCommands: Command[] = [
  {
    name: "tokens create",
    synopsis: "--gateway ID [--name N] [--expires 30d|12h|90m|4w|DATE] [--json] [--config PATH]",
    summary: "make a gateway token; it is printed once (only its hash is stored)",
    flags: {
      gateway: { type: "string", value: "ID", help: "the gateway the token opens (required)" },
      name: { type: "string", value: "N", help: "a label shown by tokens list" },
      expires: { type: "string", value: "WHEN", help: "a duration (90m, 12h, 30d, 4w) or an ISO date; default never" },
      json: JSON_FLAG,
      config: CONFIG,
    },
    run: (args) => tokens("create", args),
  },
  {
    name: "tokens list",
    synopsis: "[--gateway ID] [--json] [--config PATH]",
    summary: "list gateway tokens (never their secrets)",
    flags: { gateway: { type: "string", value: "ID", help: "only this gateway's tokens" }, json: JSON_FLAG, config: CONFIG },
    run: (args) => tokens("list", args),
  },
  {
    name: "tokens revoke",
    synopsis: "ID [--config PATH]",
    summary: "revoke a gateway token; it stops working at once",
    flags: { config: CONFIG },
    positionals: { min: 1, max: 1, message: "tokens revoke takes exactly one token id, e.g. switchboard tokens revoke tok_01J…" },
    run: (args) => tokens("revoke", args),
  },
];

async function tokens(action: "create" | "list" | "revoke", args: Args): Promise<void> {
  const rest = args.positional;
  // Validate everything the user typed before touching the database.
  const gatewayId = stringFlag(args, "gateway");
  const expires = stringFlag(args, "expires");
  const name = stringFlag(args, "name");
  const expiresAt = expires === undefined ? null : readExpiry(expires);
  if (action === "create" && gatewayId === undefined) throw new UsageError(`tokens create needs --gateway ID`);

  const config = await loadConfig(stringFlag(args, "config"));
  if (gatewayId !== undefined) requireGateway(config, gatewayId);
  const { store, close } = await openTokenStore(config);
  try {
    const json = booleanFlag(args, "json");
    if (action === "create") {
      const { token, info } = await store.create({ gatewayId: gatewayId!, name: name?.trim() || null, expiresAt });
      console.log(json ? JSON.stringify({ token, ...describe(info) }) : created(token, info));
    } else if (action === "list") {
      const list = await store.list(gatewayId);
      console.log(json ? JSON.stringify(list.map((token) => describe(token))) : table(list));
    } else {
      if (!(await store.revoke(rest[0]))) throw new Error(`No token with id "${rest[0]}"; \`switchboard tokens list\` shows the ids`);
      console.log(`Revoked ${rest[0]}; requests that present it now get 401.`);
    }
  } finally {
    await close();
  }
}

/** The token store the running gateway uses: PostgreSQL when `storage.postgres` is set (migrated on open), else the SQLite file. */
async function openTokenStore(config: ResolvedConfig): Promise<{ store: TokenStore; close(): Promise<void> }> {
  if (config.storage.postgres) {
    const db = await openPostgres(config.storage.postgres, { timeoutMs: config.storage.timeout });
    return { store: new PostgresTokenStore(db), close: () => db.close() };
  }
  if (config.storage.sqlite === ":memory:") {
    throw new Error("storage.sqlite is \":memory:\": tokens made here would vanish; use the admin API of the running gateway instead");
  }
  const db = openDatabase(config.storage.sqlite);
  return { store: new SqliteTokenStore(db), close: async () => db.close() };
}

function readExpiry(text: string): number {
  try {
    return parseExpiry(text);
  } catch (error) {
    if (error instanceof ExpiryError) throw new UsageError(`--expires: ${error.message}`);
    throw error;
  }
}

const iso = (ms: number | null) => (ms === null ? "never" : new Date(ms).toISOString());

function describe(token: GatewayToken) {
  return {
    id: token.id,
    gateway: token.gatewayId,
    name: token.name,
    created_at: new Date(token.createdAt).toISOString(),
    expires_at: token.expiresAt === null ? null : new Date(token.expiresAt).toISOString(),
    status: tokenStatus(token),
  };
}

function created(token: string, info: GatewayToken): string {
  return [
    `Created token ${info.id} for gateway "${info.gatewayId}"${info.name ? ` (${info.name})` : ""}, expires ${iso(info.expiresAt)}.`,
    "Copy it now; it is not shown again:",
    "",
    `  ${token}`,
    "",
    `Send it as: cf-aig-authorization: Bearer ${token}`,
  ].join("\n");
}

function table(list: GatewayToken[]): string {
  if (list.length === 0) return "No tokens. Make one with: switchboard tokens create --gateway ID";
  const rows = [["ID", "GATEWAY", "NAME", "CREATED", "EXPIRES", "STATUS"]];
  for (const token of list) {
    rows.push([token.id, token.gatewayId, token.name ?? "-", iso(token.createdAt), iso(token.expiresAt), tokenStatus(token)]);
  }
  return formatTable(rows);
}
