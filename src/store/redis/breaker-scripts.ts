/**
 * The Lua side of {@link RedisBreakerStore}: each breaker is one hash, changed only by these scripts,
 * so a half-open breaker hands out exactly one probe across every replica. Fields: `st` (closed /
 * open / half-open), `rc` (closed: times of the failures still inside the window, space-separated,
 * oldest first), `n` (failures since the breaker last closed), `wm` / `cd` (window and cooldown ms),
 * `oa` (opened at), `ra` (retry at). ARGV[1] is always `now` (epoch ms).
 *
 * Every write sets the hash's TTL: a closed breaker's failures fade one window after the last one; an
 * open one is kept until a window (at least) after its cooldown ends. A breaker nobody calls for that
 * long is forgotten, i.e. closed: the same as the memory store's breaker that a probe would close.
 */
const COMMON = `
local now = tonumber(ARGV[1])
local function fmt(x) return string.format('%.0f', x) end
local function recent(rc, since)
  local kept = {}
  for t in string.gmatch(rc or '', '%S+') do
    if tonumber(t) > since then kept[#kept + 1] = t end
  end
  return kept
end
local function expire(key)
  local h = redis.call('HMGET', key, 'st', 'wm', 'cd', 'ra')
  local wm, cd = tonumber(h[2]), tonumber(h[3])
  local ttl = wm
  if h[1] ~= 'closed' then ttl = math.max(tonumber(h[4]) - now, 0) + math.max(wm, cd) end
  redis.call('PEXPIRE', key, fmt(math.max(ttl, 1)))
end
local function open(key, cd)
  redis.call('HSET', key, 'st', 'open', 'rc', '', 'oa', fmt(now), 'ra', fmt(now + cd))
end
`;

/** Returns `{1, probe (1/0), clean (1: no state at all)}` when the call may go, `{0, retryAt}` when not; takes a half-open breaker's one probe. */
export const ALLOW = `${COMMON}
local h = redis.call('HMGET', KEYS[1], 'st', 'ra', 'cd')
-- The third value says "no breaker state at all": the caller may trust that for a moment.
if not h[1] then return {1, 0, 1} end
if h[1] == 'closed' then return {1, 0, 0} end
if now < tonumber(h[2]) then return {0, h[2]} end
redis.call('HSET', KEYS[1], 'st', 'half-open', 'ra', fmt(now + tonumber(h[3])))
expire(KEYS[1])
return {1, 1}
`;

/** A call answered: a half-open breaker closes (the hash goes); a closed one drops failures that left the window. */
export const SUCCESS = `${COMMON}
local h = redis.call('HMGET', KEYS[1], 'st', 'rc', 'wm')
if h[1] == 'half-open' then
  redis.call('DEL', KEYS[1])
elseif h[1] == 'closed' then
  local kept = recent(h[2], now - tonumber(h[3]))
  if #kept == 0 then redis.call('DEL', KEYS[1]) else redis.call('HSET', KEYS[1], 'rc', table.concat(kept, ' '), 'n', #kept) end
end
return 1
`;

/** A call failed. ARGV: now, failures, windowMs, cooldownMs. */
export const FAILURE = `${COMMON}
local failures, wm, cd = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'st', 'rc', 'n')
local st = h[1] or 'closed'
redis.call('HSET', KEYS[1], 'st', st, 'wm', ARGV[3], 'cd', ARGV[4])
if st == 'closed' then
  local kept = recent(h[2], now - wm)
  kept[#kept + 1] = fmt(now)
  while #kept > failures do table.remove(kept, 1) end
  redis.call('HSET', KEYS[1], 'rc', table.concat(kept, ' '), 'n', #kept)
  if #kept >= failures then open(KEYS[1], cd) end
else
  redis.call('HSET', KEYS[1], 'n', (tonumber(h[3]) or 0) + 1)
  -- A failed probe reopens for another cooldown; failures of calls let through before it opened change nothing.
  if st == 'half-open' then open(KEYS[1], cd) end
end
expire(KEYS[1])
return 1
`;

/** A probe ended without a verdict: the next call may probe. */
export const RELEASE = `${COMMON}
if redis.call('HGET', KEYS[1], 'st') == 'half-open' then redis.call('HSET', KEYS[1], 'ra', fmt(now)) end
return 1
`;

/** `{st, rc, n, wm, oa, ra}` per key in KEYS (nulls when it is gone). */
export const READ = `
local reply = {}
for i = 1, #KEYS do
  local h = redis.call('HMGET', KEYS[i], 'st', 'rc', 'n', 'wm', 'oa', 'ra')
  for j = 1, 6 do reply[#reply + 1] = h[j] end
end
return reply
`;
