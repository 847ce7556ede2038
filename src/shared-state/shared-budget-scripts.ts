/**
 * The Lua scripts of the shared Clerk budget's store (./shared-budget-store.ts). Each runs atomically in Redis, so "count the
 * window, then add" cannot interleave between replicas, and takes its clock from Redis (`TIME`), so replicas whose
 * clocks differ still count one window. Kept as TypeScript strings so the build carries them (tsc copies no .lua).
 *
 * Why a script and not `rate-limiter-flexible`: its Redis limiters count fixed windows that open with their first
 * call (up to twice the limit across a boundary, which Clerk answers with 429s); Clerk's limit holds for any 10 s
 * span. A sorted set of start times is the exact sliding-window log: one member per call start, scored by its time.
 * The same script also reads the routes' pause keys, grants several starts at once and names the members it added
 * (so unused ones can be given back): things a generic limiter's `consume` does not do.
 */

/**
 * Reserves up to `wanted` starts now.
 * KEYS: [1] the window (sorted set of starts), [2] the live replicas (sorted set of heartbeats), [3..] one pause key
 * per route with calls waiting.
 * ARGV: [1] limit, [2] window ms, [3] wanted, [4] member prefix (unique per reservation), [5] replica id,
 * [6] replica liveness ms, [7..] calls waiting per route (aligned with KEYS[3..]).
 * Returns {granted, retry ms (when fewer than asked for could be granted), starts now in the window, live replicas,
 * pause ms left per route (aligned with KEYS[3..], 0 when not paused)}. Members are `prefix:1` … `prefix:granted`.
 */
export const RESERVE = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local liveness = tonumber(ARGV[6])

local eligible = 0
local paused = {}
for i = 3, #KEYS do
  local left = redis.call('PTTL', KEYS[i])
  if left > 0 then
    paused[#paused + 1] = left
  else
    paused[#paused + 1] = 0
    eligible = eligible + tonumber(ARGV[i + 4])
  end
end
local asked = math.min(wanted, eligible)

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local granted = math.max(0, math.min(asked, limit - count))
for i = 1, granted do
  redis.call('ZADD', KEYS[1], now, ARGV[4] .. ':' .. i)
end
if count + granted > 0 then redis.call('PEXPIRE', KEYS[1], window) end
local retry = 0
if granted < asked then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  retry = tonumber(oldest[2]) + window - now
end

redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - liveness)
redis.call('PEXPIRE', KEYS[2], liveness)
local replicas = redis.call('ZCARD', KEYS[2])

return {granted, retry, count + granted, replicas, unpack(paused)}
`;

/**
 * A replica says it is alive, and learns how many are (and how full the window is). A replica coming back from its
 * local share also hands in the starts it made meanwhile (as ages), so the shared window counts them.
 * KEYS: [1] the live replicas, [2] the window. ARGV: [1] replica id, [2] liveness ms, [3] window ms,
 * [4] member prefix for handed-in starts, [5..] their ages in ms.
 * Returns {live replicas, starts now in the window}.
 */
export const HEARTBEAT = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local liveness = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - liveness)
redis.call('PEXPIRE', KEYS[1], liveness)
for i = 5, #ARGV do
  redis.call('ZADD', KEYS[2], now - tonumber(ARGV[i]), ARGV[4] .. ':' .. (i - 4))
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if #ARGV >= 5 then redis.call('PEXPIRE', KEYS[2], window) end
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
`;

/**
 * Pauses a route for `ms` (Clerk's Retry-After), never shortening a longer pause already set.
 * KEYS: [1] the route's pause key. ARGV: [1] ms.
 */
export const PAUSE = `
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return 1
`;
