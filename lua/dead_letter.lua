-- Orders PostgreSQL refuses for good (engine/persistence.py permanent_refusal), now kept in
-- order_dead_letters: each leaves the outbox, and its change is forgotten unless the order
-- changed again since it was read, so no job, batch or sync round retries it. The document
-- keeps its status and gains `dead_letter: {reason, at}`, so GET /orders/{id} shows it.
-- ARGV: order id, reason, change time ms as read ('' if none), order id, ...
-- Returns the orders that were not a dead letter before (each is counted once).
local now, first = now_ms(), {}
for i = 1, #ARGV, 3 do
  local order_id, reason, score = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('ZREM', K_OUTBOX, order_id)
  if score ~= '' and redis.call('ZSCORE', K_CHANGES, order_id) == score then
    redis.call('ZREM', K_CHANGES, order_id)
  end
  local raw = redis.call('HGET', K_ORDERS, order_id)
  if raw then
    local doc = cjson.decode(raw)
    if type(doc.dead_letter) ~= 'table' then first[#first + 1] = order_id end
    doc.dead_letter = {reason = reason, at = now}
    redis.call('HSET', K_ORDERS, order_id, cjson.encode(doc))
  end
end
return first
