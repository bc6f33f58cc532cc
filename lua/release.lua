-- Put this event's part of an order back on sale, and where the order's document lives move
-- it to a new status. ARGV[1]: order id; ARGV[2]: mode:
--   'decline'  payment refused: part must be paying; order reserved -> payment_failed
--   'cancel'   customer cancels before the event starts: order reserved|paid|completed ->
--              cancelled; a part being paid cannot be cancelled
--   'expire'   the hold lapsed while paying was attempted: order reserved -> expired
--   'rollback' a later step of the claim refused it (another event of a multi-event order,
--              or the shopping slot ended meanwhile): order reserved -> cancelled. Not
--              deleted: the sync loop may already have written it as reserved to PostgreSQL,
--              which would then keep a reservation Redis no longer knows
-- ARGV[3]: reason recorded in the history. ARGV[4..] ('cancel'): the refs of the order's
-- tickets in this event: none may have been used at the gate (else nothing changes, the
-- seats stay sold: 'tickets_used'), and the valid ones are void from this script on.
-- Returns 'ok' | 'invalid_state:<s>' | 'started' | 'tickets_used' | 'not_loaded' (the
-- event's ticket states are not in Redis yet: load them, then try again).
local order_id, mode, reason = ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()
local part = load_part(order_id)
local raw = redis.call('HGET', K_ORDERS, order_id)
local doc = raw and cjson.decode(raw) or nil
if mode == 'cancel' then
  if part and part.st == 'paying' then return 'invalid_state:paying' end
  if doc and not ({reserved = true, paid = true, completed = true})[doc.status] then
    return 'invalid_state:' .. doc.status
  end
  local starts = tonumber(redis.call('HGET', K_META, 'starts') or '0')
  if starts > 0 and now >= starts then return 'started' end
  if #ARGV >= 4 then
    if not tickets_loaded() then return 'not_loaded' end
    if used_ticket(4) then return 'tickets_used' end
    void_tickets(4, now)
  end
elseif mode == 'decline' then
  if part and part.st ~= 'paying' then return 'invalid_state:' .. part.st end
end
if part then release_part(order_id, part) end
if doc then
  if mode == 'rollback' then
    set_status(order_id, 'cancelled', now, reason, {reserved = true})
  elseif mode == 'decline' then
    set_status(order_id, 'payment_failed', now, reason, {reserved = true})
  elseif mode == 'expire' then
    set_status(order_id, 'expired', now, reason, {reserved = true})
  else
    set_status(order_id, 'cancelled', now, reason, {reserved = true, paid = true, completed = true})
  end
end
return 'ok'
