import { Type, type Static, type TSchema } from "@sinclair/typebox";

/** Documented once here; `defaults.ts` merges these defaults, `loader.ts` validates against this. */
const Strict = <T extends Record<string, TSchema>>(props: T, description?: string) =>
  Type.Object(props, { additionalProperties: false, description });

export const LogsSchema = Strict({
  /** Keep a record of each request. @default true */
  collect: Type.Optional(Type.Boolean()),
  /** Keep request and response bodies with the record. @default true */
  payloads: Type.Optional(Type.Boolean()),
  /** Bytes of each body kept; the rest is cut and the log says so. @default 1048576 */
  maxPayloadBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Keep at most this many logs for the gateway; oldest are deleted first. */
  maxRows: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Delete logs older than this many days. */
  maxAgeDays: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
});

export const GatewaySchema = Strict({
  logs: Type.Optional(LogsSchema),
  /** Time to first byte from the provider, in ms, before the gateway answers 504. No limit by default. */
  requestTimeout: Type.Optional(Type.Integer({ minimum: 1 })),
});

export const ProviderSchema = Strict({
  /** Upstream base URL; `{account}` is replaced with the account from the request path. */
  baseUrl: Type.Optional(Type.String({ pattern: "^https?://" })),
});

export const PluginObjectSchema = Type.Object(
  { name: Type.String({ minLength: 1 }) },
  { additionalProperties: true, description: "a plugin made with definePlugin()" },
);

export const ConfigSchema = Strict({
  /** When set, `/v1/{account}/…` must match it. */
  accountId: Type.Optional(Type.String({ minLength: 1 })),
  server: Type.Optional(
    Strict({
      /** @default "127.0.0.1" */
      hostname: Type.Optional(Type.String({ minLength: 1 })),
      /** @default 8787 */
      port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
      /** Bearer token for the admin (logs) API; the admin API is off without one. */
      adminToken: Type.Optional(Type.String({ minLength: 8 })),
      /** Largest request body accepted, in bytes. @default 104857600 (100 MiB) */
      maxBodyBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 120 * 1024 * 1024 })),
    }),
  ),
  storage: Type.Optional(
    Strict({
      /** SQLite file, relative to the config file's folder; `:memory:` keeps nothing. @default "./data/switchboard.db" */
      sqlite: Type.Optional(Type.String({ minLength: 1 })),
    }),
  ),
  providers: Type.Optional(Type.Record(Type.String(), ProviderSchema)),
  gateways: Type.Optional(Type.Record(Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$" }), GatewaySchema)),
  /** The ordered plugin chain: built-in names or plugin objects. */
  plugins: Type.Optional(Type.Array(Type.Union([Type.String(), PluginObjectSchema]))),
});

export type LogsConfig = Static<typeof LogsSchema>;
export type GatewayConfig = Static<typeof GatewaySchema>;
export type ProviderConfig = Static<typeof ProviderSchema>;
/** What a user writes in gateway.config.ts (plugin objects are typed precisely in the SDK). */
export type ConfigInput = Static<typeof ConfigSchema>;
