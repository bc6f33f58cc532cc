-- An admitted customer placed an order: their shopping slot now lasts as long as the order's
-- hold, and frees early once the order is paid or released (see lua/queue_visit.lua).
-- KEYS: engine/keys.py queue_keys(). ARGV: 1 customer id, 2 order id, 3 hold expiry ms.
-- Returns 1 when the customer had a slot, else 0.
local K_ACTIVE, K_SLOTS = KEYS[5], KEYS[6]
local customer, order_id, expires = ARGV[1], ARGV[2], ARGV[3]
local slot = redis.call('HGET', K_SLOTS, customer)
if not slot then return 0 end
redis.call('HSET', K_SLOTS, customer, string.match(slot, '^(%d+)') .. '|' .. order_id)
redis.call('ZADD', K_ACTIVE, expires, customer)
return 1
