-- Shared helpers, prepended to every script when it is loaded (see engine/store/scripts.py).
-- KEYS are the per-event keys of engine/keys.py EVENT_KEY_NAMES, all in one cluster slot.
local K_META, K_SEATS, K_SEAT_INFO, K_POOLS, K_CUSTOMERS, K_HOLDS, K_PARTS, K_ORDERS,
      K_OUTBOX, K_CHANGES, K_REFUSALS, K_COUNTS, K_TICKETS, K_TICKET_INFO, K_SCANS, K_VOIDED,
      K_RATE =
      KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8],
      KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15], KEYS[16], KEYS[17]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function add_counts(available, held, sold)
  if available ~= 0 then redis.call('HINCRBY', K_COUNTS, 'a', available) end
  if held ~= 0 then redis.call('HINCRBY', K_COUNTS, 'h', held) end
  if sold ~= 0 then redis.call('HINCRBY', K_COUNTS, 's', sold) end
end

local function load_part(order_id)
  local raw = redis.call('HGET', K_PARTS, order_id)
  if not raw then return nil end
  return cjson.decode(raw)
end

local function save_part(order_id, part)
  redis.call('HSET', K_PARTS, order_id, cjson.encode(part))
end

-- Put everything this order holds or bought in this event back on sale.
local function release_part(order_id, part)
  local held_mark, sold_mark = 'h:' .. order_id, 's:' .. order_id
  local held, sold = 0, 0
  for _, seat in ipairs(part.s) do
    local state = redis.call('HGET', K_SEATS, seat)
    if state == held_mark then held = held + 1 elseif state == sold_mark then sold = sold + 1 end
    if state == held_mark or state == sold_mark then redis.call('HSET', K_SEATS, seat, 'a') end
  end
  for _, line in ipairs(part.g) do
    local pool, quantity = line[1], line[2]
    local field = (part.st == 'sold') and (pool .. ':s') or (pool .. ':h')
    redis.call('HINCRBY', K_POOLS, field, -quantity)
    redis.call('HINCRBY', K_POOLS, pool .. ':a', quantity)
    if part.st == 'sold' then sold = sold + quantity else held = held + quantity end
  end
  add_counts(held + sold, -held, -sold)
  if redis.call('HINCRBY', K_CUSTOMERS, part.c, -part.n) <= 0 then
    redis.call('HDEL', K_CUSTOMERS, part.c)
  end
  redis.call('HDEL', K_PARTS, order_id)
  redis.call('ZREM', K_HOLDS, order_id)
end

-- Turn a part being paid into sold: its seats and units move from held to sold, and its hold
-- ends (a sweep no longer looks at it; a waiting-room slot following the order frees).
local function sell_part(order_id, part)
  local held_mark, sold_mark = 'h:' .. order_id, 's:' .. order_id
  for _, seat in ipairs(part.s) do
    if redis.call('HGET', K_SEATS, seat) == held_mark then
      redis.call('HSET', K_SEATS, seat, sold_mark)
    end
  end
  for _, line in ipairs(part.g) do
    redis.call('HINCRBY', K_POOLS, line[1] .. ':h', -line[2])
    redis.call('HINCRBY', K_POOLS, line[1] .. ':s', line[2])
  end
  add_counts(0, -part.n, part.n)
  part.st = 'sold'
  save_part(order_id, part)
  redis.call('ZREM', K_HOLDS, order_id)
end

-- Record a refused purchase in the event's stream (written to PostgreSQL by the sync loop).
local function log_refusal(customer, code, requested, now)
  redis.call('XADD', K_REFUSALS, '*', 'c', customer, 'r', code, 'i', requested, 't', now)
end

-- Change the status of an order whose document lives in this event; false if not allowed.
-- `fields` (optional) are set on the document in the same write.
local function set_status(order_id, status, at, reason, allowed, fields)
  local raw = redis.call('HGET', K_ORDERS, order_id)
  if not raw then return false, 'missing' end
  local doc = cjson.decode(raw)
  if allowed and not allowed[doc.status] then return false, doc.status end
  doc.status = status
  for name, value in pairs(fields or {}) do doc[name] = value end
  doc.history[#doc.history + 1] = {status = status, at = at, reason = reason or cjson.null}
  redis.call('HSET', K_ORDERS, order_id, cjson.encode(doc))
  redis.call('ZADD', K_CHANGES, at, order_id)
  return true, status
end

-- A hold whose time ran out: release it, and expire the order if its document is here.
local function expire_if_lapsed(order_id, now)
  local part = load_part(order_id)
  if not part or part.st ~= 'held' then return false end
  local expires = tonumber(redis.call('ZSCORE', K_HOLDS, order_id) or '0')
  if expires > now then return false end
  release_part(order_id, part)
  set_status(order_id, 'expired', now, 'hold_expired', {reserved = true})
  return true
end

-- Check-in (lua/scan.lua and friends): a live event's ticket states are authoritative only
-- once its tickets were loaded from PostgreSQL (meta field `tickets`, set by hydration).
local function tickets_loaded()
  return redis.call('HEXISTS', K_META, 'tickets') == 1
end

-- The first of these tickets (refs in ARGV from `from` on) that was used at the gate, if any.
local function used_ticket(from)
  for i = from, #ARGV do
    local state = redis.call('HGET', K_TICKETS, ARGV[i])
    if state and string.sub(state, 1, 1) == 'u' then return ARGV[i] end
  end
  return nil
end

-- Void the valid tickets among ARGV[from..] at `at`; they join the revocation list.
-- Returns how many.
local function void_tickets(from, at)
  local voided = 0
  for i = from, #ARGV do
    if redis.call('HGET', K_TICKETS, ARGV[i]) == 'v' then
      redis.call('HSET', K_TICKETS, ARGV[i], 'x:' .. at)
      local info = cjson.decode(redis.call('HGET', K_TICKET_INFO, ARGV[i]))
      redis.call('ZADD', K_VOIDED, at, info.id)
      voided = voided + 1
    end
  end
  return voided
end
