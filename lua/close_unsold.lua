-- Take an event off sale before it is deleted, only if nothing is held or sold right now,
-- so no claim can slip in between the check and the delete.
-- Returns 'ok' (closed, or not on sale here) | 'has_sales'.
local counts = redis.call('HMGET', K_COUNTS, 'h', 's')
if not counts[1] then return 'ok' end
if tonumber(counts[1]) > 0 or tonumber(counts[2]) > 0 then return 'has_sales' end
redis.call('HSET', K_META, 'status', 'closing')
return 'ok'
