-- Take a seat off sale before it is deleted: only if it is available right now, so no claim
-- can hold a seat that is about to disappear. ARGV[1]: seat id.
-- Returns 'ok' (removed, or not on sale here) | 'taken'.
local seat = ARGV[1]
local state = redis.call('HGET', K_SEATS, seat)
if not state then return 'ok' end
if state ~= 'a' then return 'taken' end
redis.call('HDEL', K_SEATS, seat)
redis.call('HDEL', K_SEAT_INFO, seat)
add_counts(-1, 0, 0)
return 'ok'
