-- Turn this event's paying part of an order into sold; where the order's document lives,
-- mark it paid and record it in the outbox, in this same script, so a paid order is never
-- only in the caller's memory. Idempotent: a part already sold by this order is 'ok'.
-- ARGV[1]: order id, ARGV[2]: payment reference. Returns 'ok' | 'missing' | 'invalid_state:<s>'.
local order_id = ARGV[1]
local now = now_ms()
local part = load_part(order_id)
if not part then return 'missing' end
if part.st == 'paying' then
  local held_mark, sold_mark = 'h:' .. order_id, 's:' .. order_id
  for _, seat in ipairs(part.s) do
    if redis.call('HGET', K_SEATS, seat) == held_mark then
      redis.call('HSET', K_SEATS, seat, sold_mark)
    end
  end
  for _, line in ipairs(part.g) do
    redis.call('HINCRBY', K_POOLS, line[1] .. ':h', -line[2])
    redis.call('HINCRBY', K_POOLS, line[1] .. ':s', line[2])
  end
  add_counts(0, -part.n, part.n)
  part.st = 'sold'
  save_part(order_id, part)
  redis.call('ZREM', K_HOLDS, order_id)
elseif part.st ~= 'sold' then
  return 'invalid_state:' .. part.st
end
local ok = set_status(order_id, 'paid', now, cjson.null, {reserved = true},
                     {payment_ref = ARGV[2], paid_at = now})
if ok then redis.call('ZADD', K_OUTBOX, now, order_id) end
return 'ok'
