-- Sweep: release holds whose time ran out and expire their orders.
-- ARGV: order ids found due in the holds index; each is checked again against server time.
-- Returns the ids that were expired.
local now = now_ms()
local expired = {}
for _, order_id in ipairs(ARGV) do
  if expire_if_lapsed(order_id, now) then expired[#expired + 1] = order_id end
end
return expired
