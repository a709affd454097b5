/**
 * The PostgreSQL schema of the stores that live there (logs, gateway tokens), as migrations per
 * concern: `SCHEMA.logs[i]` moves the "logs" concern from version i to i + 1. Only ever append.
 * `migrate` (migrate.ts) applies them under an advisory lock, so replicas starting together are safe.
 *
 * Text columns use the "C" collation: comparisons, `ORDER BY` and `ILIKE` then behave as SQLite's
 * (bytewise order, ASCII-only case folding), so both stores answer the logs API identically.
 */

/**
 * `logs` stays lean (what lists, filters and aggregates read); heads and bodies live in `log_payloads`
 * (one row per log at most, deleted with it). `seq` is the insertion order: the tie-breaker of every
 * ordering (SQLite's rowid) and the cursor of `switchboard logs --follow`.
 *
 * `metadata_text` is the JSON the logs API returns, kept as the request sent it (jsonb reorders keys and
 * adds spaces), and what `search` looks into; `metadata` is the same as jsonb, generated from it, for
 * filters and `group_by`. `metadata_indexed` is that jsonb again when small enough to sit in the covering
 * index (a btree row holds at most ~2.7 kB), so `group_by=metadata.<key>` reads the index alone;
 * `metadata_big` marks the rare rows whose metadata is not there (read through `logs_big_metadata`).
 * `model` is stored cut at 512 bytes for the same reason (see log-rows.ts). `attempts` and the heads are
 * only ever returned, never queried: text, byte for byte.
 */
const LOGS_V1 = `
CREATE TABLE logs (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  id text COLLATE "C" PRIMARY KEY,
  gateway_id text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL,
  provider text COLLATE "C" NOT NULL,
  model text COLLATE "C",
  path text COLLATE "C" NOT NULL,
  method text COLLATE "C" NOT NULL,
  status_code integer NOT NULL,
  success boolean NOT NULL,
  cached boolean NOT NULL,
  step integer NOT NULL,
  duration integer NOT NULL,
  time_to_first_byte integer,
  tokens_in integer,
  tokens_out integer,
  cached_tokens_in integer NOT NULL DEFAULT 0,
  cache_write_tokens_in integer NOT NULL DEFAULT 0,
  cost double precision,
  custom_cost boolean NOT NULL DEFAULT false,
  metadata_text text COLLATE "C",
  metadata jsonb GENERATED ALWAYS AS (metadata_text::jsonb) STORED,
  metadata_indexed jsonb GENERATED ALWAYS AS (CASE WHEN octet_length(metadata_text) <= 1024 THEN metadata_text::jsonb END) STORED,
  metadata_big boolean GENERATED ALWAYS AS (octet_length(metadata_text) > 1024) STORED,
  event_id text COLLATE "C" NOT NULL,
  request_type text COLLATE "C" NOT NULL,
  request_content_type text COLLATE "C",
  response_content_type text COLLATE "C",
  request_size bigint NOT NULL DEFAULT 0,
  response_size bigint NOT NULL DEFAULT 0,
  user_agent text COLLATE "C",
  token_id text COLLATE "C",
  feedback smallint,
  score integer,
  error_code integer,
  error_message text COLLATE "C",
  aborted boolean NOT NULL DEFAULT false,
  attempts text NOT NULL DEFAULT '[]'
);
-- The logs API's default order (created_at, then seq) and the analytics range scans: every column the
-- analytics read is included, so a gateway's time range is one index-only scan.
CREATE INDEX logs_gateway_created ON logs (gateway_id, created_at, seq)
  INCLUDE (duration, success, cached, tokens_in, tokens_out, cost, provider, model, metadata_indexed, metadata_big);
CREATE INDEX logs_big_metadata ON logs (gateway_id, created_at) WHERE metadata_big;
CREATE INDEX logs_gateway_provider_created ON logs (gateway_id, provider, created_at);
CREATE INDEX logs_gateway_model ON logs (gateway_id, model);
-- switchboard logs: the newest logs, and --follow's cursor.
CREATE INDEX logs_gateway_seq ON logs (gateway_id, seq);
-- A hash index: an event id comes from a client header and may be longer than a btree row can hold.
CREATE INDEX logs_event ON logs USING hash (event_id);
CREATE TABLE log_payloads (
  id text COLLATE "C" PRIMARY KEY REFERENCES logs (id) ON DELETE CASCADE,
  request_head text NOT NULL,
  response_head text NOT NULL,
  request_body bytea,
  response_body bytea,
  request_truncated boolean NOT NULL DEFAULT false,
  response_truncated boolean NOT NULL DEFAULT false
);`;

/** Only the SHA-256 of a token's secret is stored (see src/store/tokens.ts). Times are epoch ms. */
const TOKENS_V1 = `
CREATE TABLE gateway_tokens (
  id text COLLATE "C" PRIMARY KEY,
  gateway_id text COLLATE "C" NOT NULL,
  name text,
  hash text COLLATE "C" NOT NULL UNIQUE,
  created_at bigint NOT NULL,
  expires_at bigint,
  revoked_at bigint
);
CREATE INDEX gateway_tokens_by_gateway ON gateway_tokens (gateway_id, created_at);`;

/** Every concern's migrations, applied in this order. */
export const SCHEMA: Readonly<Record<string, readonly string[]>> = {
  logs: [LOGS_V1],
  tokens: [TOKENS_V1],
};
