-- The sale opened: put the pre-queue, already shuffled by the caller with a cryptographic
-- random source and written to the staging ZSET as places 1..n, ahead of everyone who joined
-- since (their places start at n + 1), in one step. Idempotent.
-- KEYS: 1 state, 2 pre-queue, 3 line, 4 staging (engine/keys.py waiting_room_shuffle).
-- Returns 1 when opened now, 0 when it already was, -1 when the staging is incomplete.
local K_STATE, K_PRE, K_LINE, K_SHUFFLED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('HGET', K_STATE, 'opened') == '1' then
  redis.call('DEL', K_SHUFFLED)
  return 0
end
if redis.call('ZCARD', K_SHUFFLED) ~= redis.call('ZCARD', K_PRE) then return -1 end
redis.call('ZUNIONSTORE', K_LINE, 2, K_LINE, K_SHUFFLED, 'AGGREGATE', 'MIN')
redis.call('DEL', K_PRE, K_SHUFFLED)
redis.call('HSET', K_STATE, 'opened', 1)
return 1
