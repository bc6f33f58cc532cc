-- Lock this event's part of an order for payment: held -> paying, if the order still owns it
-- and the hold has not lapsed. The hold is pushed to now + ARGV[2] ms so no sweeper takes it
-- while the payment is being decided.
-- ARGV[1]: order id, ARGV[2]: grace ms.
-- Returns 'ok' | 'hold_expired' (lapsed, released now) | 'missing' (the part is gone: the sweep
-- or a cancel released it, the order's document says which) | 'invalid_state:<state>'.
local order_id = ARGV[1]
local now = now_ms()
local part = load_part(order_id)
if not part then return 'missing' end
if part.st ~= 'held' then return 'invalid_state:' .. part.st end
if expire_if_lapsed(order_id, now) then return 'hold_expired' end
part.st = 'paying'
save_part(order_id, part)
redis.call('ZADD', K_HOLDS, now + tonumber(ARGV[2]), order_id)
return 'ok'
