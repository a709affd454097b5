/**
 * The Lua scripts of `RedisVectorIndex`: each change of a partition is one atomic script, so replicas
 * never see half of one. A partition `P` is five keys sharing the hash tag `{P}`:
 *
 * - `meta` hash: `epoch` (random, new whenever the partition starts from nothing, e.g. after a Redis
 *   restart), `seq` (bumped by every add and delete), `floor` (the newest tombstone forgotten).
 * - `vec` hash: key → `"<expiresAt> <base64 of the unit Float32 vector>"`.
 * - `live` sorted set: key → seq of its add. Oldest first, so it is both the eviction order and the
 *   feed of "added since seq N".
 * - `gone` sorted set: key → seq of its delete or eviction (a tombstone), so other replicas drop it
 *   too; at most `maxTombstones`, the oldest forgotten first (a replica older than `floor` reloads).
 * - `exp` sorted set: key → expiresAt, for the purge.
 *
 * Every key expires an hour after the partition's last vector would, so an abandoned partition
 * leaves nothing behind.
 */

/** The order of KEYS every script below expects. */
export const PARTITION_KEYS = ["meta", "vec", "live", "gone", "exp"] as const;

/** Lua helper: forgets the oldest tombstones beyond `max`, moving `floor` up to the newest one forgotten. */
const TRIM_TOMBSTONES = `
local function trim(meta, gone, max)
  local over = redis.call('ZCARD', gone) - max
  if over > 0 then
    local dropped = redis.call('ZPOPMIN', gone, over)
    redis.call('HSET', meta, 'floor', dropped[#dropped])
  end
end
`;

/**
 * ARGV: key, value, expiresAt, maxPerPartition, maxTombstones, epoch for a new partition, key TTL (ms).
 * Returns `{epoch, seq, evicted keys}`.
 */
export const ADD = `${TRIM_TOMBSTONES}
local meta, vec, live, gone, exp = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local key = ARGV[1]
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  -- A partition starts (again): what is left of an earlier one (a key Redis evicted apart) goes.
  redis.call('DEL', vec, live, gone, exp)
  epoch = ARGV[6]
  redis.call('HSET', meta, 'epoch', epoch, 'seq', 0, 'floor', 0)
end
local seq = redis.call('HINCRBY', meta, 'seq', 1)
redis.call('HSET', vec, key, ARGV[2])
redis.call('ZADD', live, seq, key)
redis.call('ZREM', gone, key)
redis.call('ZADD', exp, ARGV[3], key)
local evicted = {}
local over = redis.call('ZCARD', live) - tonumber(ARGV[4])
if over > 0 then
  local oldest = redis.call('ZPOPMIN', live, over)
  for i = 1, #oldest, 2 do
    local old = oldest[i]
    redis.call('HDEL', vec, old)
    redis.call('ZREM', exp, old)
    redis.call('ZADD', gone, seq, old)
    evicted[#evicted + 1] = old
  end
end
trim(meta, gone, tonumber(ARGV[5]))
local ttl = tonumber(ARGV[7])
for _, k in ipairs(KEYS) do
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
end
return {epoch, seq, evicted}
`;

/** ARGV: key, maxTombstones. Returns 1 when the key had a vector. */
export const DELETE = `${TRIM_TOMBSTONES}
local meta, vec, live, gone, exp = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local key = ARGV[1]
if redis.call('HDEL', vec, key) == 0 then return 0 end
redis.call('ZREM', live, key)
redis.call('ZREM', exp, key)
if redis.call('HEXISTS', meta, 'epoch') == 1 then
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  redis.call('ZADD', gone, seq, key)
  trim(meta, gone, tonumber(ARGV[2]))
  local ttl = redis.call('PTTL', meta)
  if ttl > 0 and redis.call('PTTL', gone) == -1 then redis.call('PEXPIRE', gone, ttl) end
end
return 1
`;

/**
 * What a replica holding the partition at (epoch, seq) is missing. ARGV: epoch, seq, page size.
 * Returns `{""}` when the partition does not exist, else `{epoch, upTo, reset, more, adds, removed}`:
 * `reset` 1 means "drop your copy first" (another epoch, or tombstones you need were forgotten);
 * `adds` is key, value, key, value… of the vectors added after `seq` up to `upTo`, oldest first, at
 * most a page; `removed` the keys deleted or evicted in that range; `more` 1 when another page follows.
 */
export const SYNC = `
local meta, vec, live, gone = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local m = redis.call('HMGET', meta, 'epoch', 'seq', 'floor')
if not m[1] then return {''} end
local seq, floor, from, size = tonumber(m[2]), tonumber(m[3]), tonumber(ARGV[2]), tonumber(ARGV[3])
local reset = 0
if m[1] ~= ARGV[1] or from < floor or from > seq then
  from = 0
  reset = 1
end
if from == seq then return {m[1], seq, reset, 0, {}, {}} end
local page = redis.call('ZRANGEBYSCORE', live, '(' .. from, '+inf', 'WITHSCORES', 'LIMIT', 0, size)
local more = 0
local upTo = seq
if #page / 2 >= size then
  more = 1
  upTo = tonumber(page[#page])
end
local adds = {}
for i = 1, #page, 2 do
  local value = redis.call('HGET', vec, page[i])
  if value then
    adds[#adds + 1] = page[i]
    adds[#adds + 1] = value
  end
end
local removed = {}
if reset == 0 then removed = redis.call('ZRANGEBYSCORE', gone, '(' .. from, upTo) end
return {m[1], upTo, reset, more, adds, removed}
`;

/**
 * Drops vectors expired at or before ARGV[1], at most ARGV[2] of them; returns how many. No tombstones:
 * every replica already stops serving a vector past its `expiresAt`.
 */
export const PURGE = `
local vec, live, exp = KEYS[2], KEYS[3], KEYS[5]
local keys = redis.call('ZRANGEBYSCORE', exp, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, k in ipairs(keys) do
  redis.call('HDEL', vec, k)
  redis.call('ZREM', live, k)
  redis.call('ZREM', exp, k)
end
return #keys
`;
