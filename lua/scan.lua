-- A gate scan of a genuine code (its server tag was checked) in a live event: the first scan
-- of a valid ticket uses it; every scan is logged in the event's scan stream in this same
-- script, for a worker to write to PostgreSQL (a scan is never lost, nor written twice).
-- ARGV[1]: ticket ref (hex); ARGV[2]: digest of the whole code (a changed signature is not
-- our code); ARGV[3]: partner id; ARGV[4]: scanner's user id; ARGV[5]: gate ('' for none).
-- Returns {'not_live'} (the event is not in Redis: PostgreSQL answers), {'not_loaded'} (its
-- ticket states are not loaded yet), or {result, ticket info JSON | '', state | ''} with
-- result 'admitted' | 'already_used' | 'void' | 'invalid'.
local ref, digest = ARGV[1], ARGV[2]
if redis.call('EXISTS', K_META) == 0 then return {'not_live'} end
if not tickets_loaded() then return {'not_loaded'} end
local now = now_ms()
local raw = redis.call('HGET', K_TICKET_INFO, ref)
local info = raw and cjson.decode(raw) or nil
if info and info.d ~= digest then raw, info = nil, nil end
local result, state, ticket_id = 'invalid', '', ''
if info then state = redis.call('HGET', K_TICKETS, ref) or '' end
if state == '' then raw, info = nil, nil end
if info then
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
redis.call('XADD', K_SCANS, '*', 't', ticket_id, 'r', result, 'p', ARGV[3], 'u', ARGV[4],
           'g', ARGV[5], 'a', now)
return {result, raw or '', state}
