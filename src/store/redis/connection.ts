import { RedisClient } from "bun";
import type { Health } from "../../pipeline/types.ts";
import { StoreUnavailable } from "../errors.ts";

/**
 * One connection to Redis (or Valkey) shared by every Redis-backed store of a process, with the
 * policy the scale-out design needs: no command waits longer than `timeoutMs`, commands are never
 * queued while the server is away (they fail at once with {@link RedisUnavailable}, and each store
 * applies its documented policy), and the connection comes back on its own once the server does,
 * without a restart. Faults and recovery are reported to `health` as component `redis`.
 *
 * Bun's client pipelines concurrent commands over one socket, so one connection serves the process.
 *
 * @example
 * const redis = new RedisConnection("redis://127.0.0.1:6379", { timeoutMs: 250, health });
 * const count = await redis.script(TAKE, [key], [limit, windowMs]);
 */
export class RedisConnection {
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #health: Health;
  #client: RedisClient;
  #connecting: Promise<void> | null = null;
  #nextAttempt = 0;
  #closed = false;
  readonly #shas = new Map<string, string>();

  constructor(url: string, options: { timeoutMs: number; health: Health }) {
    this.#url = url;
    this.#timeoutMs = options.timeoutMs;
    this.#health = options.health;
    this.#client = this.#open();
    this.#reconnect();
  }

  /** Resolves once the first connection attempt has ended (connected or not): start-up waits on it, requests never do. */
  async ready(): Promise<boolean> {
    await this.#connecting;
    return this.#client.connected;
  }

  /** Whether the socket is up right now (a command may still time out). */
  get connected(): boolean {
    return this.#client.connected;
  }

  /**
   * Runs one command. Rejects with {@link RedisUnavailable} when the server is away or does not answer
   * within the timeout, and with the server's error (e.g. WRONGTYPE) otherwise. Byte arguments go as they are.
   */
  send(command: string, args: (string | number | Uint8Array)[]): Promise<unknown> {
    return this.#run(command, (client) => client.send(command, args.map((arg) => (arg instanceof Uint8Array ? arg : String(arg))) as string[]));
  }

  /** `GET` as raw bytes (null when the key does not exist), with the same deadline and policy as `send`. */
  getBuffer(key: string): Promise<Uint8Array | null> {
    return this.#run("GET", (client) => client.getBuffer(key)) as Promise<Uint8Array | null>;
  }

  /**
   * Runs a Lua script by its SHA-1 (computed here, so the common case is one round trip), sending the
   * source only when the server does not know it (`NOSCRIPT`: first use, or after a Redis restart).
   */
  async script(source: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    let sha = this.#shas.get(source);
    if (!sha) this.#shas.set(source, (sha = new Bun.CryptoHasher("sha1").update(source).digest("hex")));
    try {
      return await this.send("EVALSHA", [sha, keys.length, ...keys, ...args]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes("NOSCRIPT")) throw error;
      return this.send("EVAL", [source, keys.length, ...keys, ...args]);
    }
  }

  async #run(label: string, call: (client: RedisClient) => Promise<unknown>): Promise<unknown> {
    if (this.#closed) throw new RedisUnavailable("the Redis connection is closed");
    if (!this.#client.connected) {
      this.#reconnect();
      const error = new RedisUnavailable("Redis is not connected");
      this.#health.fault("redis", error, { during: `running ${label}` });
      throw error;
    }
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const timer = setTimeout(() => reject(new RedisUnavailable(`Redis did not answer ${label} within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    call(this.#client).then(resolve, (error: unknown) => reject(unavailable(error) ?? error));
    try {
      const reply = await promise;
      this.#health.recovered("redis");
      return reply;
    } catch (error) {
      if (error instanceof RedisUnavailable) this.#health.fault("redis", error, { during: `running ${label}` });
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#closed = true;
    this.#client.close();
  }

  #open(): RedisClient {
    // No offline queue: a command sent while the server is away fails at once instead of waiting for it.
    return new RedisClient(this.#url, { connectionTimeout: Math.max(this.#timeoutMs, 1000), enableOfflineQueue: false, autoReconnect: true, maxRetries: 3 });
  }

  /** Starts one connection attempt, at most once a second; a client that gave up is replaced. */
  #reconnect(): void {
    if (this.#closed || this.#connecting || Date.now() < this.#nextAttempt) return;
    this.#nextAttempt = Date.now() + 1000;
    this.#connecting = this.#client
      .connect()
      .catch((error: unknown) => {
        this.#health.fault("redis", error, { during: "connecting" });
        this.#client.close();
        this.#client = this.#open();
      })
      .finally(() => {
        this.#connecting = null;
      });
  }
}

/** Redis could not be asked: away, closed or too slow. Stores catch this one and apply their policy. */
export class RedisUnavailable extends StoreUnavailable {
  override readonly name = "RedisUnavailable";
}

function unavailable(error: unknown): RedisUnavailable | null {
  const code = (error as { code?: string } | null)?.code ?? "";
  const message = error instanceof Error ? error.message : String(error);
  if (/CONNECTION|CLOSED|ECONNREFUSED|ECONNRESET|closed|not connected|socket/i.test(`${code} ${message}`)) {
    return new RedisUnavailable(`Redis connection failed: ${code || "closed"}`);
  }
  return null;
}
