-- Turn this event's paying part of an order into sold; where the order's document lives,
-- mark it paid and record it in the outbox, in this same script, so a paid order is never
-- only in the caller's memory. Idempotent: a part already sold by this order is 'ok'.
-- The step-by-step payment of an order spanning events; one event's orders are paid by
-- lua/pay.lua in one call.
-- ARGV[1]: order id, ARGV[2]: payment reference. Returns 'ok' | 'missing' | 'invalid_state:<s>'.
local order_id = ARGV[1]
local now = now_ms()
local part = load_part(order_id)
if not part then return 'missing' end
if part.st == 'paying' then
  sell_part(order_id, part)
elseif part.st ~= 'sold' then
  return 'invalid_state:' .. part.st
end
local ok = set_status(order_id, 'paid', now, cjson.null, {reserved = true},
                     {payment_ref = ARGV[2], paid_at = now})
if ok then redis.call('ZADD', K_OUTBOX, now, order_id) end
return 'ok'
