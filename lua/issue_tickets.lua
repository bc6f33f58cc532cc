-- Tickets a worker just committed to PostgreSQL, into their live event, before their orders
-- are marked completed (lua/complete.lua): valid while the order's part here is sold, void
-- if the order was cancelled meanwhile (its cancel found no ticket to void). A state Redis
-- has already (a scan, a void, a replay) is kept.
-- ARGV: order id, ref, info JSON, order id, ref, info JSON, ...
if redis.call('EXISTS', K_META) == 0 then return 0 end
local now, sold = now_ms(), {}
for i = 1, #ARGV, 3 do
  local order_id, ref, info = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if sold[order_id] == nil then
    local part = load_part(order_id)
    sold[order_id] = (part ~= nil and part.st == 'sold')
  end
  redis.call('HSETNX', K_TICKET_INFO, ref, info)
  if not redis.call('HGET', K_TICKETS, ref) then
    if sold[order_id] then
      redis.call('HSET', K_TICKETS, ref, 'v')
    else
      redis.call('HSET', K_TICKETS, ref, 'x:' .. now)
      redis.call('ZADD', K_VOIDED, now, cjson.decode(info).id)
    end
  end
end
return #ARGV / 3
