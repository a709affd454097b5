/**
 * The Lua side of {@link RedisSpendStore}. A bucket is one hash: `ms` (windowMs), `sl` (sliding, 1/0),
 * `w` (window number), `cur` and `prev` (settled spend of the current and previous window) and `res`
 * (held by admitted requests), money in integer nano-dollars. Each script rolls a bucket forward to
 * the window of `now` exactly as the memory store does (never backwards: a replica whose clock is
 * behind must not wipe a window), and sets the bucket's TTL: two windows from its window's start, or
 * at least `hold` ms while it holds a reservation.
 *
 * Numbers written with `%.0f` (Lua's default formatting keeps only 14 digits) and returned as integers.
 */

/** Shared prelude: the bucket of KEYS[i] rolled to `now`. */
const ROLL = `
local function fmt(x) return string.format('%.0f', x) end
local function roll(key, windowMs, now)
  local h = redis.call('HMGET', key, 'ms', 'w', 'cur', 'prev', 'res', 'sl')
  local window = math.floor(now / windowMs)
  local b = { w = window, cur = 0, prev = 0, res = tonumber(h[5]) or 0, sl = h[6] }
  if tonumber(h[1]) == windowMs then
    b.w, b.cur, b.prev = tonumber(h[2]), tonumber(h[3]), tonumber(h[4])
    if b.w < window then
      if b.w == window - 1 then b.prev = b.cur else b.prev = 0 end
      b.cur = 0
      b.w = window
    end
  end
  return b
end
local function save(key, windowMs, b, now, hold)
  redis.call('HSET', key, 'ms', windowMs, 'sl', b.sl, 'w', fmt(b.w), 'cur', fmt(b.cur), 'prev', fmt(b.prev), 'res', fmt(b.res))
  local ttl = (b.w + 2) * windowMs - now
  if b.res > 0 and ttl < hold then ttl = hold end
  if ttl < 1 then ttl = 1 end
  redis.call('PEXPIRE', key, fmt(ttl))
end
`;

/**
 * Checks every bucket and, only if all admit, reserves in each. KEYS: the buckets, then the batch's hold
 * key, set to `held` when it admits (how a later settlement whose `reserve` call timed out learns
 * whether Redis ran it); a hold key that exists already means that settlement came first and cancelled
 * this batch: nothing is done and `{-1}` returned. ARGV: now, hold, then per bucket windowMs, limit,
 * sliding (1/0), reserve. Returns `{allowed, then per bucket allowed, w, cur, prev, res}` as seen
 * before this reservation.
 */
export const RESERVE = `${ROLL}
local now, hold = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = #KEYS - 1
if redis.call('EXISTS', KEYS[n + 1]) == 1 then return {-1} end
local allowed = 1
local buckets = {}
local reply = {0}
for i = 1, n do
  local a = 2 + (i - 1) * 4
  local windowMs, limit = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local b = roll(KEYS[i], windowMs, now)
  b.sl = ARGV[a + 3]
  local spent = b.cur
  if b.sl == '1' then spent = b.prev * (1 - (now - b.w * windowMs) / windowMs) + b.cur end
  local ok = 0
  if spent + b.res < limit then ok = 1 else allowed = 0 end
  for _, v in ipairs({ ok, b.w, b.cur, b.prev, b.res }) do reply[#reply + 1] = v end
  buckets[i] = b
end
if allowed == 1 then
  for i = 1, n do
    local a = 2 + (i - 1) * 4
    buckets[i].res = buckets[i].res + tonumber(ARGV[a + 4])
    save(KEYS[i], tonumber(ARGV[a + 1]), buckets[i], now, hold)
  end
  redis.call('SET', KEYS[n + 1], 'held', 'PX', fmt(hold))
end
reply[1] = allowed
return reply
`;

/**
 * Releases each charge's reservation and adds its cost to the window of `now`, once: KEYS[1] is the
 * settlement's own key, and a settlement already applied (a retry after a timeout that Redis did run)
 * is skipped. Then per charge KEYS: the bucket, and the hold key of its `reserve` batch when that call's
 * answer was lost (else the bucket again). ARGV: now, hold, then per charge windowMs, reserved, cost,
 * check (1: release only if the hold key says `held`; a missing one is marked `cancelled`, so the lost
 * `reserve`, should it still arrive, holds nothing). A bucket that is gone (expired, or Redis restarted)
 * is created only when there is a cost to record, as a fixed window (the memory store does the same).
 */
export const SETTLE = `${ROLL}
local now, hold = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', fmt(hold)) == false then return 0 end
local holds = {}
for i = 1, (#KEYS - 1) / 2 do
  local key, a = KEYS[2 * i], 2 + (i - 1) * 4
  local reserved, cost = tonumber(ARGV[a + 2]), math.max(0, tonumber(ARGV[a + 3]))
  if ARGV[a + 4] == '1' then
    local holdKey = KEYS[2 * i + 1]
    if holds[holdKey] == nil then
      holds[holdKey] = redis.call('GET', holdKey) == 'held'
      redis.call('SET', holdKey, holds[holdKey] and 'released' or 'cancelled', 'PX', fmt(hold))
    end
    if not holds[holdKey] then reserved = 0 end
  end
  local windowMs = tonumber(redis.call('HGET', key, 'ms'))
  if windowMs then
    local b = roll(key, windowMs, now)
    b.res = math.max(0, b.res - reserved)
    b.cur = b.cur + cost
    save(key, windowMs, b, now, hold)
  elseif cost > 0 then
    windowMs = tonumber(ARGV[a + 1])
    save(key, windowMs, { w = math.floor(now / windowMs), cur = cost, prev = 0, res = 0, sl = '0' }, now, hold)
  end
end
return 1
`;

/** The raw fields of each bucket in KEYS: `{ms, sl, w, cur, prev, res}` per key (nulls when it is gone). */
export const READ = `
local reply = {}
for i = 1, #KEYS do
  local h = redis.call('HMGET', KEYS[i], 'ms', 'sl', 'w', 'cur', 'prev', 'res')
  for j = 1, 6 do reply[#reply + 1] = h[j] end
end
return reply
`;
