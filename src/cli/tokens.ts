import type { ResolvedConfig } from "../config/defaults.ts";
import { loadConfig } from "../config/loader.ts";
import { openDatabase } from "../store/sqlite/db.ts";
import { SqliteTokenStore } from "../store/sqlite/tokens.ts";
import { ExpiryError, parseExpiry, tokenStatus, type GatewayToken } from "../store/tokens.ts";
import { stringFlag, UsageError, type Args } from "./args.ts";

const FLAGS: Record<string, string[]> = {
  create: ["gateway", "name", "expires", "json", "config"],
  list: ["gateway", "json", "config"],
  revoke: ["config"],
};

/** `switchboard tokens create|list|revoke`: manages gateway tokens in the config's SQLite file. */
export async function tokens(args: Args): Promise<void> {
  const [action, ...rest] = args.positional;
  const allowed = FLAGS[action ?? ""];
  if (!allowed) throw new UsageError(`tokens needs create, list or revoke${action ? `; got "${action}"` : ""}`);
  const unknown = [...args.flags.keys()].filter((flag) => !allowed.includes(flag));
  if (unknown.length > 0) throw new UsageError(`tokens ${action} does not take ${unknown.map((f) => `--${f}`).join(", ")}`);
  if (action !== "revoke" && rest.length > 0) throw new UsageError(`tokens ${action} takes no positional argument; got "${rest[0]}"`);
  if (action === "revoke" && rest.length !== 1) throw new UsageError(`tokens revoke takes exactly one token id, e.g. switchboard tokens revoke tok_01J…`);

  // Validate everything the user typed before touching the database.
  const gatewayId = stringFlag(args, "gateway");
  const expires = stringFlag(args, "expires");
  const name = stringFlag(args, "name");
  const expiresAt = expires === undefined ? null : readExpiry(expires);
  if (action === "create" && gatewayId === undefined) throw new UsageError(`tokens create needs --gateway ID`);

  const config = await loadConfig(stringFlag(args, "config"));
  if (gatewayId !== undefined) requireGateway(config, gatewayId);
  if (config.storage.sqlite === ":memory:") {
    throw new Error("storage.sqlite is \":memory:\": tokens made here would vanish; use the admin API of the running gateway instead");
  }
  const db = openDatabase(config.storage.sqlite);
  try {
    const store = new SqliteTokenStore(db);
    const json = args.flags.has("json");
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
    db.close();
  }
}

function readExpiry(text: string): number {
  try {
    return parseExpiry(text);
  } catch (error) {
    if (error instanceof ExpiryError) throw new UsageError(`--expires: ${error.message}`);
    throw error;
  }
}

function requireGateway(config: ResolvedConfig, id: string): void {
  if (config.gateways.has(id)) return;
  const source = config.configPath ?? "the built-in default config";
  throw new Error(`Gateway "${id}" is not in ${source}; configured gateways: ${[...config.gateways.keys()].join(", ")}`);
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
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd()).join("\n");
}
