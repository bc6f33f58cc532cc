-- Ticket states from PostgreSQL into a live event (hydration, or the first need after an
-- upgrade). Redis keeps what it knows: only a state it lacks or still has as valid is taken
-- from PostgreSQL (a ticket never becomes valid again, so used or void there is newer).
-- ARGV[1]: JSON [[ref, info JSON, state], ...]; ARGV[2]: '1' when this is the last part of
-- the event's tickets: from then on the Redis states are authoritative (meta `tickets`).
-- Returns 'ok', or 'not_live' (the event is not hydrated: nothing written).
if redis.call('EXISTS', K_META) == 0 then return 'not_live' end
for _, ticket in ipairs(cjson.decode(ARGV[1])) do
  local ref, info, state = ticket[1], ticket[2], ticket[3]
  redis.call('HSETNX', K_TICKET_INFO, ref, info)
  local known = redis.call('HGET', K_TICKETS, ref)
  if not known or (known == 'v' and state ~= 'v') then
    redis.call('HSET', K_TICKETS, ref, state)
    if string.sub(state, 1, 1) == 'x' then
      redis.call('ZADD', K_VOIDED, tonumber(string.sub(state, 3)), cjson.decode(info).id)
    end
  end
end
if ARGV[2] == '1' then redis.call('HSET', K_META, 'tickets', '1') end
return 'ok'
