-- After orders and their tickets are committed in PostgreSQL: paid -> completed, at the time
-- written there, and each order leaves the outbox. PostgreSQL already holds this change, so
-- it is not queued for writing again. A time of 0 only takes the order out of the outbox
-- (a paid order cancelled before it was written: PostgreSQL has it as it is now).
-- ARGV: order id, completion time ms, order id, completion time ms, ...
-- Returns each order's status afterwards.
local statuses = {}
for i = 1, #ARGV, 2 do
  local order_id, at = ARGV[i], tonumber(ARGV[i + 1])
  local ok, status = false, 'unchanged'
  if at > 0 then
    ok, status = set_status(order_id, 'completed', at, cjson.null, {paid = true})
  end
  if ok then redis.call('ZREM', K_CHANGES, order_id) end
  redis.call('ZREM', K_OUTBOX, order_id)
  statuses[#statuses + 1] = status
end
return statuses
