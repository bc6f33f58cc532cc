-- Gate scans of genuine codes (their server tags were checked) in a live event, in arrival
-- order: the first scan of a valid ticket uses it; every scan is logged in the event's scan
-- stream in this same script, for a worker to write to PostgreSQL (a scan is never lost,
-- nor written twice). Scans that arrive together come in one call (engine/store/
-- redis_tickets.py), as claims do.
-- ARGV[1]: JSON [[ticket ref (hex), digest of the whole code (a genuine code with a changed
-- signature is not ours), partner id, scanner's user id, gate or ''], ...].
-- Returns 'not_live' (the event is not in Redis: PostgreSQL answers), 'not_loaded' (its
-- ticket states are not loaded yet), or JSON [[result, ticket info JSON | '', state | ''],
-- ...] with result 'admitted' | 'already_used' | 'void' | 'invalid'.
if redis.call('EXISTS', K_META) == 0 then return 'not_live' end
if not tickets_loaded() then return 'not_loaded' end
local now = now_ms()
local answers = {}
for i, scan in ipairs(cjson.decode(ARGV[1])) do
  local ref, digest = scan[1], scan[2]
  local raw = redis.call('HGET', K_TICKET_INFO, ref)
  local info = raw and cjson.decode(raw) or nil
  local state = ''
  if info and info.d == digest then state = redis.call('HGET', K_TICKETS, ref) or '' end
  local result, ticket_id = 'invalid', ''
  if state == '' then
    raw = ''
  else
    ticket_id = tostring(info.id)
    local kind = string.sub(state, 1, 1)
    if kind == 'v' then
      state = 'u:' .. now
      redis.call('HSET', K_TICKETS, ref, state)
      result = 'admitted'
    elseif kind == 'u' then
      result = 'already_used'
    else
      result = 'void'
    end
  end
  -- one field: ticket id|result|partner|scanner|ms|gate (the gate last: it may hold '|')
  redis.call('XADD', K_SCANS, '*', 's', table.concat(
    {ticket_id, result, scan[3], scan[4], now, scan[5]}, '|'))
  answers[i] = {result, raw, state}
end
return cjson.encode(answers)
