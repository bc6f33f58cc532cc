-- Claim seats and general-admission quantities for a batch of orders in one event.
-- ARGV[1]: JSON list of claims {o: order id, c: customer id, s: [seat ids], g: [[type, qty]],
--          h: 1 when this event is the order's home (its document is created here),
--          r: JSON of the requested items (kept with a refusal), a: client address or absent}.
-- ARGV[2..5] (absent: no rate limit): claims per customer in a burst, over ms; claims per
--          address in a burst, over ms (engine/rate_limits.py). Each claim first takes a token
--          from both its customer's and its address's bucket in this event (K_RATE,
--          lua/_bucket.lua: read once and written once for the whole batch); without one in
--          either it takes neither and is refused {err='rate_limited', x=ms to wait}, not
--          recorded as a refused purchase: it was never looked at.
-- Each claim is all or nothing; claims of the batch are independent of one another. A claim
-- whose order id already holds in this event is refused {err='order_exists'} and changes
-- nothing.
-- Ids travel as strings (Lua prints large numbers in exponent form).
-- Returns a JSON list, one entry per claim: {ok=1, e=expires_ms, l=[lines], d=the document's
-- JSON (home), as stored: encoded once}
-- or {err=code, x=detail}.
local claims = cjson.decode(ARGV[1])
local now = now_ms()
local meta = redis.call('HMGET', K_META, 'status', 'sale_starts', 'sale_ends', 'hold_ms', 'limit',
                        'event')
local results = {}
local pool_info = {}  -- price and name of each pool, read once per batch
local counted = 0     -- units moved from available to held by this batch

local function refuse(claim, code, detail)
  redis.call('XADD', K_REFUSALS, '*', 'c', claim.c, 'r', code, 'i', claim.r or '', 't', now)
  return {err = code, x = detail or cjson.null}
end

local per_customer, customer_ms = tonumber(ARGV[2] or '0'), tonumber(ARGV[3] or '0')
local per_address, address_ms = tonumber(ARGV[4] or '0'), tonumber(ARGV[5] or '0')
local rate_on = per_customer > 0 or per_address > 0
local by_customer, by_address
local customer_of, address_of = {}, {}  -- each claim's bucket fields, by its place in the call

local function open_rate_buckets()
  local address_fields = {}
  for i, claim in ipairs(claims) do
    customer_of[i] = 'c:' .. claim.c
    if claim.a then
      address_of[i] = 'a:' .. claim.a
      address_fields[#address_fields + 1] = address_of[i]
    end
  end
  by_customer = open_buckets(K_RATE, customer_of, per_customer, customer_ms)
  by_address = open_buckets(K_RATE, address_fields, per_address, address_ms)
end

-- 0 when the i-th claim may go on (a token taken from each of its buckets), else the ms until
-- it may
local function rate_wait(i)
  local customer, address = customer_of[i], address_of[i]
  local customer_at, wait = peek_token(by_customer, customer, now)
  if wait > 0 then return wait end
  if address then
    local address_at, address_wait = peek_token(by_address, address, now)
    if address_wait > 0 then return address_wait end
    charge(by_address, address, address_at)
  end
  charge(by_customer, customer, customer_at)
  return 0
end

local function claim_one(i, claim)
  -- an order id holds once per event: a claim sent again (a client that resent it after a
  -- broken connection, or twice in one batch) would otherwise hold a second time under the
  -- same id, and only one of the two holds would ever be released
  if redis.call('HEXISTS', K_PARTS, claim.o) == 1 then return {err = 'order_exists', x = claim.o} end
  if rate_on then
    local wait = rate_wait(i)
    if wait > 0 then return {err = 'rate_limited', x = wait} end
  end
  if meta[1] ~= 'published' then return refuse(claim, 'sale_not_open', 'event is not on sale') end
  if now < tonumber(meta[2]) or now >= tonumber(meta[3]) then
    return refuse(claim, 'sale_not_open', 'outside the on-sale window')
  end
  local wanted = #claim.s
  for _, line in ipairs(claim.g) do wanted = wanted + line[2] end
  local owned = tonumber(redis.call('HGET', K_CUSTOMERS, claim.c) or '0')
  if owned + wanted > tonumber(meta[5]) then
    return refuse(claim, 'limit_exceeded', 'limit ' .. meta[5] .. ', already ' .. owned)
  end
  local taken, unknown = {}, {}
  for _, seat in ipairs(claim.s) do
    local state = redis.call('HGET', K_SEATS, seat)
    if not state then
      unknown[#unknown + 1] = seat
    elseif state ~= 'a' then
      if string.sub(state, 1, 2) == 'h:' and expire_if_lapsed(string.sub(state, 3), now) then
        state = 'a'
      else
        taken[#taken + 1] = seat
      end
    end
  end
  if #unknown > 0 then return {err = 'unknown_seat', x = unknown} end
  if #taken > 0 then return refuse(claim, 'seat_unavailable', taken) end
  for _, line in ipairs(claim.g) do
    local available = redis.call('HGET', K_POOLS, line[1] .. ':a')
    if not available then return {err = 'unknown_ticket_type', x = {line[1]}} end
    if tonumber(available) < line[2] then
      return refuse(claim, 'sold_out', {line[1]})
    end
  end
  local expires = now + tonumber(meta[4])
  local lines, held_mark = {}, 'h:' .. claim.o
  for _, seat in ipairs(claim.s) do
    redis.call('HSET', K_SEATS, seat, held_mark)
    local info = redis.call('HGET', K_SEAT_INFO, seat)
    local sep = string.find(info, '|', 1, true)
    lines[#lines + 1] = {'s', seat, string.sub(info, sep + 1), tonumber(string.sub(info, 1, sep - 1))}
  end
  for _, line in ipairs(claim.g) do
    redis.call('HINCRBY', K_POOLS, line[1] .. ':a', -line[2])
    redis.call('HINCRBY', K_POOLS, line[1] .. ':h', line[2])
    local info = pool_info[line[1]]
    if not info then
      info = redis.call('HMGET', K_POOLS, line[1] .. ':p', line[1] .. ':n')
      pool_info[line[1]] = info
    end
    for _ = 1, line[2] do lines[#lines + 1] = {'g', line[1], info[2], tonumber(info[1])} end
  end
  counted = counted + wanted
  redis.call('HINCRBY', K_CUSTOMERS, claim.c, wanted)
  redis.call('ZADD', K_HOLDS, expires, claim.o)
  save_part(claim.o, {c = claim.c, s = claim.s, g = claim.g, n = wanted, st = 'held'})
  if claim.h == 1 then
    -- the order document: its fields are engine/order_document.py's OrderDocument, and
    -- tests/integration/test_order_document.py holds every script that writes one to them
    local items, total = {}, 0
    for _, line in ipairs(lines) do
      total = total + line[4]
      items[#items + 1] = {event_id = meta[6],
                           seat_id = line[1] == 's' and line[2] or cjson.null,
                           ticket_type_id = line[1] == 'g' and line[2] or cjson.null,
                           label = line[3], price_cents = line[4]}
    end
    local doc = {
      id = claim.o, customer_id = claim.c, status = 'reserved', items = items,
      total_cents = total, expires_at = expires, created_at = now, events = {meta[6]},
      history = {{status = 'reserved', at = now, reason = cjson.null}}}
    local encoded = cjson.encode(doc)
    redis.call('HSET', K_ORDERS, claim.o, encoded)
    redis.call('ZADD', K_CHANGES, now, claim.o)
    return {ok = 1, e = expires, l = lines, d = encoded}  -- the caller needs no second read
  end
  return {ok = 1, e = expires, l = lines}
end

if rate_on then open_rate_buckets() end
for i, claim in ipairs(claims) do results[i] = claim_one(i, claim) end
if rate_on then  -- every bucket is full again once the longer window has passed unused
  local expire_ms = math.max(per_customer > 0 and customer_ms or 0,
                             per_address > 0 and address_ms or 0)
  close_buckets({by_customer, by_address}, expire_ms)
end
add_counts(-counted, counted, 0)
return cjson.encode(results)
