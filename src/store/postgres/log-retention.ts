import type { Health, Logger } from "../../pipeline/types.ts";
import type { RetentionPolicy } from "../types.ts";
import type { PostgresDatabase } from "./db.ts";
import { isUnavailable } from "./errors.ts";

const DAY_MS = 86_400_000;

/** Class of the advisory locks that keep two replicas from pruning one gateway at the same time (`"SWBP"`). */
const PRUNE_LOCK_CLASS = 0x5357_4250;

/**
 * Applies `policy` to one gateway's logs, oldest first: everything past `maxAgeDays`, then everything
 * beyond the newest `maxRows` (ties in time broken by insertion order, as the SQLite store does). Payloads
 * go with their logs (`ON DELETE CASCADE`). One transaction, under an advisory lock per gateway: with
 * `wait: false` it returns 0 at once when another replica is pruning the same gateway.
 *
 * @returns how many logs were deleted
 */
export function pruneGateway(db: PostgresDatabase, gatewayId: string, policy: RetentionPolicy, wait: boolean, timeoutMs = db.queryTimeoutMs): Promise<number> {
  const work = db.sql.begin(async (tx) => {
    const [lock] = wait
      ? await tx<{ ok: boolean }[]>`SELECT pg_advisory_xact_lock(${PRUNE_LOCK_CLASS}, hashtext(${gatewayId})) IS NOT NULL AS ok`
      : await tx<{ ok: boolean }[]>`SELECT pg_try_advisory_xact_lock(${PRUNE_LOCK_CLASS}, hashtext(${gatewayId})) AS ok`;
    if (!lock?.ok) return 0;
    let deleted = 0;
    if (policy.maxAgeDays !== undefined) {
      const cutoff = Date.now() - policy.maxAgeDays * DAY_MS;
      deleted += (await tx`DELETE FROM logs WHERE gateway_id = ${gatewayId} AND created_at < ${cutoff}::int8`).count;
    }
    if (policy.maxRows !== undefined) {
      const [kept] = await tx<{ created_at: string; seq: string }[]>`SELECT created_at, seq FROM logs WHERE gateway_id = ${gatewayId}
        ORDER BY created_at DESC, seq DESC LIMIT 1 OFFSET ${Math.max(0, policy.maxRows - 1)}::int8`;
      if (kept) {
        deleted += (await tx`DELETE FROM logs WHERE gateway_id = ${gatewayId}
          AND (created_at, seq) < (${kept.created_at}::int8, ${kept.seq}::int8)`).count;
      }
    }
    return deleted;
  });
  return db.run(() => work, "applying log retention", timeoutMs);
}

/**
 * Prunes the gateways the writer wrote to, at most once per `intervalMs` (so a busy gateway may exceed
 * `maxRows` by a few seconds of traffic), off the request path. Failures are reported, never thrown.
 */
export class RetentionScheduler {
  private readonly pending = new Set<string>();
  private timer: Timer | null = null;
  private lastRunAt = 0;
  private running = false;
  private closed = false;

  constructor(
    private readonly db: PostgresDatabase,
    private readonly options: {
      retention?: (gatewayId: string) => RetentionPolicy | undefined;
      intervalMs: number;
      /** Deadline of one automatic pass over a gateway. */
      timeoutMs: number;
      logger: Logger;
      health: Health;
    },
  ) {}

  /**
   * Gateways a batch just wrote to. When the last pass is older than `intervalMs`, prunes them now and
   * resolves after (the writer awaits it, so a flush sees the result, as with SQLite); else later. Never rejects.
   */
  async written(gatewayIds: Iterable<string>): Promise<void> {
    if (!this.options.retention || this.closed) return;
    for (const id of gatewayIds) {
      const policy = this.options.retention(id);
      if (policy && (policy.maxRows !== undefined || policy.maxAgeDays !== undefined)) this.pending.add(id);
    }
    if (this.pending.size === 0 || this.timer || this.running) return;
    const wait = this.lastRunAt + this.options.intervalMs - Date.now();
    if (wait <= 0) return this.run();
    this.timer = setTimeout(() => void this.run(), wait);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async run(): Promise<void> {
    this.timer = null;
    this.running = true;
    this.lastRunAt = Date.now();
    const ids = [...this.pending];
    this.pending.clear();
    for (const id of ids) {
      const policy = this.options.retention?.(id);
      if (!policy || this.closed) continue;
      try {
        await pruneGateway(this.db, id, policy, false, this.options.timeoutMs);
      } catch (error) {
        if (isUnavailable(error)) this.options.health.fault("logs", error, { during: "applying log retention" });
        else this.options.logger.error(`applying log retention to gateway "${id}" failed`, error);
      }
    }
    this.running = false;
    if (this.pending.size > 0) void this.written([]);
  }
}
