-- The first step of cancelling an order that spans events, run in each event other than its
-- home before the home event commits the cancellation (lua/release.lua 'cancel'), and undone
-- here if a later event refuses. ARGV[1]: 'void' | 'restore'; ARGV[2]: order id; ARGV[3]:
-- the time 'void' returned (restore only what that step voided); ARGV[4..]: the refs of the
-- order's tickets in this event.
--   'void'    none may have been used ('tickets_used', nothing changes); the valid ones are
--             void from now on (a scan answers void). Returns the time as a string, or ''
--             when none was valid (another attempt voided them: not this one's to restore).
--   'restore' the order's part is still sold here: its tickets voided at ARGV[3] are valid
--             again. Returns 'ok'.
-- Either may return 'not_loaded' (load the event's ticket states, then try again).
local mode, order_id = ARGV[1], ARGV[2]
if redis.call('EXISTS', K_META) == 0 then  -- not live: no ticket state here to change
  if mode == 'void' then return '' end
  return 'ok'
end
if not tickets_loaded() then return 'not_loaded' end
if mode == 'void' then
  if used_ticket(4) then return 'tickets_used' end
  local now = now_ms()
  if void_tickets(4, now) == 0 then return '' end
  return tostring(now)
end
if ARGV[3] == '' then return 'ok' end
local part = load_part(order_id)
if not part or part.st ~= 'sold' then return 'ok' end
local voided = 'x:' .. ARGV[3]
for i = 4, #ARGV do
  if redis.call('HGET', K_TICKETS, ARGV[i]) == voided then
    redis.call('HSET', K_TICKETS, ARGV[i], 'v')
    redis.call('ZREM', K_VOIDED, cjson.decode(redis.call('HGET', K_TICKET_INFO, ARGV[i])).id)
  end
end
return 'ok'
