-- Load (or reload) an event's inventory from PostgreSQL, keeping Redis's in-flight state.
-- PostgreSQL is authoritative for what is sold; Redis for holds and not-yet-persisted sales.
-- ARGV[1]: JSON meta {status, sale_starts, sale_ends, hold_ms, limit, event, starts}
-- ARGV[2]: JSON seats [[id, price_cents, label], ...]  (every seat the event has)
-- ARGV[3]: JSON pools [[id, price_cents, name, quantity], ...]
-- ARGV[4]: JSON sold parts from PostgreSQL [{o, c, s: [seat ids], g: [[type, qty]]}, ...]
-- Returns {available, held, sold} after the reload.
local meta = cjson.decode(ARGV[1])
for name, value in pairs(meta) do redis.call('HSET', K_META, name, tostring(value)) end

for _, sold in ipairs(cjson.decode(ARGV[4])) do
  if redis.call('HEXISTS', K_PARTS, sold.o) == 0 then
    local n = #sold.s
    for _, line in ipairs(sold.g) do n = n + line[2] end
    save_part(sold.o, {c = sold.c, s = sold.s, g = sold.g, n = n, st = 'sold'})
  end
end

-- seats: every seat of the event, in the state its part (if any) says
local wanted = {}
for _, seat in ipairs(cjson.decode(ARGV[2])) do
  local id = tostring(seat[1])
  wanted[id] = true
  redis.call('HSET', K_SEAT_INFO, id, seat[2] .. '|' .. seat[3])
  if not redis.call('HGET', K_SEATS, id) then redis.call('HSET', K_SEATS, id, 'a') end
end
for _, id in ipairs(redis.call('HKEYS', K_SEATS)) do
  if not wanted[id] and redis.call('HGET', K_SEATS, id) == 'a' then
    redis.call('HDEL', K_SEATS, id)
    redis.call('HDEL', K_SEAT_INFO, id)
  end
end

-- parts decide seat states, pool held/sold and what each customer owns
local pool_held, pool_sold, customers = {}, {}, {}
local parts = redis.call('HGETALL', K_PARTS)
for i = 1, #parts, 2 do
  local order_id, part = parts[i], cjson.decode(parts[i + 1])
  local mark = (part.st == 'sold' and 's:' or 'h:') .. order_id
  for _, seat in ipairs(part.s) do redis.call('HSET', K_SEATS, tostring(seat), mark) end
  local target = part.st == 'sold' and pool_sold or pool_held
  for _, line in ipairs(part.g) do
    local pool = tostring(line[1])
    target[pool] = (target[pool] or 0) + line[2]
  end
  customers[part.c] = (customers[part.c] or 0) + part.n
end
redis.call('DEL', K_CUSTOMERS)
for customer, n in pairs(customers) do redis.call('HSET', K_CUSTOMERS, customer, n) end

local available, held, sold = 0, 0, 0
local pools = cjson.decode(ARGV[3])
local kept = {}
for _, pool in ipairs(pools) do kept[tostring(pool[1])] = true end
for _, field in ipairs(redis.call('HKEYS', K_POOLS)) do  -- ticket types deleted meanwhile
  if not kept[string.match(field, '^(.*):')] then redis.call('HDEL', K_POOLS, field) end
end
for _, pool in ipairs(pools) do
  local id = tostring(pool[1])
  local h, s = pool_held[id] or 0, pool_sold[id] or 0
  local a = math.max(pool[4] - h - s, 0)
  redis.call('HSET', K_POOLS, id .. ':a', a, id .. ':h', h, id .. ':s', s,
             id .. ':p', pool[2], id .. ':n', pool[3], id .. ':q', pool[4])
  available, held, sold = available + a, held + h, sold + s
end
local states = redis.call('HVALS', K_SEATS)
for _, state in ipairs(states) do
  local kind = string.sub(state, 1, 1)
  if kind == 'a' then available = available + 1
  elseif kind == 'h' then held = held + 1
  else sold = sold + 1 end
end
redis.call('HSET', K_COUNTS, 'a', available, 'h', held, 's', sold)
return {available, held, sold}
