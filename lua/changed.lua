-- Orders whose latest status change PostgreSQL does not have yet, oldest change first,
-- leaving out the paid orders still in the outbox: their persist_order job (or a batch)
-- writes those, and a backlog of them must not hide the other changes behind it.
-- Changes put off after PostgreSQL refused them (park_changes.lua) wait until their time.
-- ARGV[1]: at most this many; ARGV[2]: look at most this far into the changes.
local want, depth = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_ms()
local found, start, page = {}, 0, 500
while #found < want and start < depth do
  local ids = redis.call('ZRANGE', K_CHANGES, '-inf', now, 'BYSCORE', 'LIMIT', start, page)
  for _, id in ipairs(ids) do
    if not redis.call('ZSCORE', K_OUTBOX, id) then
      found[#found + 1] = id
      if #found >= want then break end
    end
  end
  if #ids < page then break end
  start = start + page
end
return found
