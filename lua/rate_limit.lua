-- Take a token from one bucket (lua/_bucket.lua) that is not an event's: registrations and
-- logins per client address, payments per customer (engine/store/redis_rate_limit.py).
-- KEYS[1]: the bucket's HASH (engine/keys.py rate_bucket). ARGV: 1 capacity, 2 window ms.
-- Returns 0, or the ms until a token is there.
local capacity, window_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local bucket = open_buckets(KEYS[1], {'b'}, capacity, window_ms)
local wait = take_token(bucket, 'b', now_ms())
close_buckets({bucket}, window_ms)
return wait
