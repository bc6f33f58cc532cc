-- An admitted customer's shopping slot, when they place an order (engine/admission.py).
-- ARGV[1] 'check': may they start an order now? 'attach': their order ARGV[3], held until
-- ARGV[4] ms, was placed: the slot now lasts as long as that hold, and frees early once the
-- order is paid or released (see lua/waiting_room_visit.lua).
-- Both answer 1 while the slot is live: the admission has not lapsed and the order the slot
-- follows, if any, is still held (or being paid). Otherwise 0, and a slot that is over (its
-- admission lapsed unused, or its order was paid, cancelled or expired) is freed at once: the
-- admission token alone does not let a customer shop on after their slot went to the next one,
-- so no more than max_active customers ever shop at once.
-- KEYS: engine/keys.py waiting_room_keys(). ARGV: 1 mode, 2 customer id, 3 order id, 4 hold expiry ms.
local K_ACTIVE, K_SLOTS, K_HOLDS = KEYS[5], KEYS[6], KEYS[8]
local mode, customer = ARGV[1], ARGV[2]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local slot = redis.call('HGET', K_SLOTS, customer)
if not slot then return 0 end
local admitted_until = string.match(slot, '^(%d+)')
local order_id = string.match(slot, '|(.+)$')
local over
if order_id then
  over = tonumber(redis.call('ZSCORE', K_HOLDS, order_id) or '0') <= now
else
  over = tonumber(admitted_until) <= now
end
if over then
  redis.call('ZREM', K_ACTIVE, customer)
  redis.call('HDEL', K_SLOTS, customer)
  return 0
end
if tonumber(admitted_until) <= now then return 0 end  -- shopping on its order, no new ones
if mode == 'attach' then
  redis.call('HSET', K_SLOTS, customer, admitted_until .. '|' .. ARGV[3])
  redis.call('ZADD', K_ACTIVE, ARGV[4], customer)
end
return 1
