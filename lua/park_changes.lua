-- Put off status changes PostgreSQL refused: each is re-scored to the time (Redis's clock)
-- it may be tried again, so the changes behind it are written meanwhile (changed.lua takes
-- only changes due by now). An order that changed again since it was read keeps its new
-- change, due at once. Returns how many were put off.
-- ARGV: order id, change time ms as read, delay ms, order id, ...
local now, parked = now_ms(), 0
for i = 1, #ARGV, 3 do
  if redis.call('ZSCORE', K_CHANGES, ARGV[i]) == ARGV[i + 1] then
    parked = parked + 1
    redis.call('ZADD', K_CHANGES, 'XX', now + tonumber(ARGV[i + 2]), ARGV[i])
  end
end
return parked
