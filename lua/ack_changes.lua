-- Forget status changes that PostgreSQL now has, unless the order changed again meanwhile.
-- ARGV: order id, change time ms, order id, change time ms, ...
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', K_CHANGES, ARGV[i]) == ARGV[i + 1] then
    removed = removed + redis.call('ZREM', K_CHANGES, ARGV[i])
  end
end
return removed
