-- After the order and its tickets are committed in PostgreSQL: paid -> completed, at the
-- time written there, and the order leaves the outbox. PostgreSQL already holds this change,
-- so it is not queued for writing again.
-- ARGV[1]: order id, ARGV[2]: completion time ms. Returns the order's status afterwards.
local order_id, at = ARGV[1], tonumber(ARGV[2])
local ok, status = set_status(order_id, 'completed', at, cjson.null, {paid = true})
if ok then redis.call('ZREM', K_CHANGES, order_id) end
redis.call('ZREM', K_OUTBOX, order_id)
return status
