-- Take a token from one bucket (lua/_bucket.lua) that is not an event's: registrations and
-- logins per client address, payments per customer (engine/store/redis_rate_limit.py).
-- KEYS[1]: the bucket's HASH (engine/keys.py rate_bucket). ARGV: 1 capacity, 2 window ms.
-- Returns 0, or the ms until a token is there.
local capacity, window_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = take_token(KEYS[1], 'b', capacity, window_ms, now_ms())
if wait == 0 then redis.call('PEXPIRE', KEYS[1], window_ms) end
return wait
