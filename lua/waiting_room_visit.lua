-- Customers' visits to an event's waiting room: one joins it (ARGV[1] 'join') or several
-- look ('status': the polls that arrived together in one API process, answered in one call).
-- Every visit first moves admission forward, computed from Redis server time, so any number of
-- API processes agree on who is admitted without a coordinator or a background job.
-- Run by engine/store/redis_waiting_room.py (not through EventScripts): KEYS are engine/keys.py
-- waiting_room_keys() plus, for a join, waiting_room_joins(): the joins-per-address hash of the current
-- window, chosen here by Redis's clock; it expires when the window ends; then, for both, the
-- room's visits-per-customer buckets (waiting_room_rate(), lua/_bucket.lua, prepended) when that
-- limit is on.
-- ARGV: 1 mode, 2 customer ids separated by commas (one for a join), 3 ms an admission lasts
--       unused, 4 joins allowed per address per window, 5 address window ms, 6 client address,
--       7 visits (joins and polls) per customer in a burst, 8 over ms (absent or 0: none).
-- KEYS[1] holds the room's settings, written by hydration (engine/store/redis_inventory.py)
-- when the sale opens or changes, with no expiry; without it the event is not on sale.
-- Settings JSON: {st: event status, s/e: sale window ms, on: room enabled, r: admissions per
-- minute, m: most customers shopping at once, p: paused}.
-- Returns a flat array (integers and short strings, cheaper than JSON both here and in the
-- client): {'unknown'} no such event on sale; {'off'} no waiting room; {'closed'};
-- {'limited', ms to wait} too many joins from the address; {'r', ms to wait} too many visits
-- from the customer (a join); or {'ok', sale opens ms, admissions per minute x 1000 to expect
-- from now (-1000: admission stopped), 1 while the opening shuffle is due, then per customer:
-- state ('r': too many visits, then ms to wait), customers ahead, admission expiry ms}.
local K_CFG, K_STATE, K_PRE, K_LINE, K_ACTIVE, K_SLOTS, K_COUNTS, K_HOLDS, K_ADDR, K_RATE =
      KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local mode, customers = ARGV[1], {}
for customer in string.gmatch(ARGV[2], '[^,]+') do customers[#customers + 1] = customer end
local admission_ms = tonumber(ARGV[3])
-- every step below is bounded, so a visit costs the same with 1,000 or 100,000 in line
local RATE_WINDOW_MS = 30000  -- admissions are counted in buckets this long
local CAP_SCAN_MS = 250       -- at the cap, look for paid or released orders this often
local CHECK_BATCH = 100       -- shopping slots checked for such orders per visit
local LAPSE_BATCH = 200       -- lapsed slots freed per visit (the rest on the next ones)
local ADMIT_BATCH = 500       -- admitted per visit at most (the credit left, on the next ones)

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local raw = redis.call('GET', K_CFG)
if not raw then return {'unknown'} end
local cfg = cjson.decode(raw)
if cfg.st ~= 'published' and cfg.st ~= 'cancelled' then return {'unknown'} end
if cfg.s == cjson.null then return {'unknown'} end
if not cfg.on then return {'off'} end
if cfg.st == 'cancelled' or now >= cfg.e then return {'closed'} end

-- visits per customer: each takes a token from its customer's bucket first (one customer's
-- polls may come several in one call: `limited` is by place in the call)
local per_customer, visit_ms = tonumber(ARGV[7] or '0'), tonumber(ARGV[8] or '0')
local limited = {}
if per_customer > 0 then
  local buckets = open_buckets(K_RATE, customers, per_customer, visit_ms)
  for i, c in ipairs(customers) do
    local wait = take_token(buckets, c, now)
    if wait > 0 then limited[i] = wait end
  end
  close_buckets({buckets}, visit_ms)
  if mode == 'join' and limited[1] then return {'r', limited[1]} end
end

local state = redis.call('HMGET', K_STATE, 'opened', 'npre', 't', 'cr', 'w0', 'n0', 'n1', 'scan',
                        'sc')
local opened, npre = state[1] == '1', tonumber(state[2])
local sale_open = now >= cfg.s
if sale_open and not npre then
  -- the pre-queue closes at the opening: later arrivals queue behind all of it, in order
  npre = redis.call('ZCARD', K_PRE)
  redis.call('HSET', K_STATE, 'npre', npre)
  if npre == 0 then
    opened = true
    redis.call('HSET', K_STATE, 'opened', 1)
  end
end

local counts = redis.call('HMGET', K_COUNTS, 'a', 'h')
local sold_out = counts[1] and tonumber(counts[1]) <= 0 and tonumber(counts[2] or '0') <= 0

-- shopping slots ---------------------------------------------------------------------------
local function free_slot(c)
  redis.call('ZREM', K_ACTIVE, c)
  redis.call('HDEL', K_SLOTS, c)
end

local function order_of(slot)
  local bar = string.find(slot, '|', 1, true)
  return bar and string.sub(slot, bar + 1) or nil
end

-- when the order's hold (or its payment in progress) ends, or nil if it already has
local function hold_until(order_id)
  local until_ms = tonumber(redis.call('ZSCORE', K_HOLDS, order_id) or '0')
  return until_ms > now and until_ms or nil
end

-- is this customer's slot still theirs: admitted and not lapsed, its order (if any) held
local function live(c, slot)
  local order_id = order_of(slot)
  if order_id then return hold_until(order_id) ~= nil end
  return tonumber(redis.call('ZSCORE', K_ACTIVE, c) or '0') > now
end

-- join -------------------------------------------------------------------------------------
local function queued(c)
  return redis.call('HEXISTS', K_SLOTS, c) == 1 or redis.call('ZSCORE', K_LINE, c)
      or redis.call('ZSCORE', K_PRE, c)
end

-- a turn that is over (its order paid, released or expired, or the admission lapsed unused)
-- is not a place: free its slot, so the customer joins the line again
local joining = mode == 'join' and customers[1]
local last_turn = joining and redis.call('HGET', K_SLOTS, joining)
if last_turn and not live(joining, last_turn) then free_slot(joining) end

if joining and not queued(joining) then
  local customer = joining
  local window_ms = tonumber(ARGV[5])
  -- the hash lives until its window ends (Redis's clock), so a join in the next window
  -- finds it gone and starts a new count; nothing here walks the hash
  local joins = redis.call('HINCRBY', K_ADDR, ARGV[6], 1)
  redis.call('PEXPIREAT', K_ADDR, (math.floor(now / window_ms) + 1) * window_ms)
  if joins > tonumber(ARGV[4]) then
    return {'limited', window_ms - now % window_ms}
  end
  if npre then
    redis.call('ZADD', K_LINE, npre + redis.call('HINCRBY', K_STATE, 'seq', 1), customer)
  else
    redis.call('ZADD', K_PRE, redis.call('HINCRBY', K_STATE, 'arrivals', 1), customer)
  end
end

-- admission --------------------------------------------------------------------------------
local function lapse_slots()
  local due = redis.call('ZRANGEBYSCORE', K_ACTIVE, '-inf', now, 'LIMIT', 0, LAPSE_BATCH)
  for _, c in ipairs(due) do
    local slot = redis.call('HGET', K_SLOTS, c)
    local order_id = slot and order_of(slot)
    local until_ms = order_id and hold_until(order_id)
    if until_ms then redis.call('ZADD', K_ACTIVE, until_ms, c) else free_slot(c) end
  end
end

-- a paid, cancelled or released order frees its slot before its hold time would have; the
-- slots are looked at CHECK_BATCH at a time from rank `from`, one batch per visit until a
-- pass is done; returns where the next batch starts (0: the pass is done). Unused admissions
-- are left to lapse_slots.
local function free_finished_orders(from)
  local batch = redis.call('ZRANGE', K_ACTIVE, from, from + CHECK_BATCH - 1)
  local kept = 0
  for _, c in ipairs(batch) do
    local slot = redis.call('HGET', K_SLOTS, c)
    local order_id = slot and order_of(slot)
    if not slot or (order_id and not hold_until(order_id)) then
      free_slot(c)
    else
      kept = kept + 1
    end
  end
  if #batch < CHECK_BATCH then return 0 end
  return from + kept
end

local admitted_now = 0
local flowing = opened and sale_open and not cfg.p and not sold_out
lapse_slots()
local active = redis.call('ZCARD', K_ACTIVE)
local cursor = tonumber(state[9] or '0')
if flowing and active >= cfg.m and (cursor > 0 or now >= tonumber(state[8] or '0')) then
  cursor = free_finished_orders(cursor)
  if cursor == 0 then
    redis.call('HSET', K_STATE, 'scan', now + CAP_SCAN_MS, 'sc', 0)
  else
    redis.call('HSET', K_STATE, 'sc', cursor)
  end
  active = redis.call('ZCARD', K_ACTIVE)
end
local credit = tonumber(state[4] or '0')
if flowing then
  -- credit accrues at the rate; at most one second's worth (and at least one admission)
  -- is kept, so a quiet spell or a full house never releases a crowd at once
  local last = tonumber(state[3] or (now - 60000 / cfg.r))  -- a first visit admits at once
  credit = math.min(credit + (now - last) * cfg.r / 60000, math.max(1, cfg.r / 60))
  local room = math.min(math.floor(credit), cfg.m - active, ADMIT_BATCH)
  if room > 0 then
    local popped = redis.call('ZPOPMIN', K_LINE, room)
    local expires = now + admission_ms
    for i = 1, #popped, 2 do
      redis.call('ZADD', K_ACTIVE, expires, popped[i])
      redis.call('HSET', K_SLOTS, popped[i], expires)
      admitted_now = admitted_now + 1
    end
    credit = credit - admitted_now
    active = active + admitted_now
  end
end

-- admissions counted per bucket, for the rate actually achieved
local w0, n0, n1 = tonumber(state[5] or now), tonumber(state[6] or '0'), tonumber(state[7] or '-1')
if now - w0 >= RATE_WINDOW_MS then
  local buckets = math.floor((now - w0) / RATE_WINDOW_MS)
  n1 = buckets == 1 and n0 or 0
  n0 = 0
  w0 = w0 + buckets * RATE_WINDOW_MS
end
n0 = n0 + admitted_now
if flowing then
  -- left unwritten, the credit is recomputed to the same value from the last write
  if admitted_now > 0 or w0 ~= tonumber(state[5]) then
    redis.call('HSET', K_STATE, 't', now, 'cr', tostring(credit), 'w0', w0, 'n0', n0, 'n1', n1)
  end
else
  redis.call('HSET', K_STATE, 't', now)  -- no credit accrues while admission is stopped
end

local rate = -1
if opened and not cfg.p and not sold_out then
  rate = cfg.r
  local elapsed = (now - w0) + (n1 >= 0 and RATE_WINDOW_MS or 0)
  if active >= cfg.m and elapsed >= 5000 then
    -- the cap, not the rate, is what admits people now: the pace achieved lately
    local measured = (n0 + math.max(n1, 0)) * 60000 / elapsed
    rate = math.min(rate, measured)
  end
end

-- each customer ------------------------------------------------------------------------
-- per customer: state ('a' admitted, 'w' waiting, 's' sold out, 'x' not in the queue),
-- customers ahead (-1: in the pre-queue, not placed yet), admission expiry ms
local pre_size = not opened and redis.call('ZCARD', K_PRE) or 0
local reply = {'ok', cfg.s, math.floor(rate * 1000), (npre and not opened) and 1 or 0}
for i, customer in ipairs(customers) do
  local st, ahead, expires = 'x', -1, 0
  local rank = not limited[i] and redis.call('ZRANK', K_LINE, customer)
  if limited[i] then
    st, ahead = 'r', limited[i]
  elseif rank then  -- most who poll are waiting: asked first
    st, ahead = 'w', rank + pre_size
  else
    local slot = redis.call('HGET', K_SLOTS, customer)
    if slot and live(customer, slot) then
      st, ahead, expires = 'a', 0, tonumber(string.match(slot, '^(%d+)'))
    elseif slot then  -- lapsed unused, or its order was paid or released: the turn is over
      free_slot(customer)
    elseif not opened and redis.call('ZSCORE', K_PRE, customer) then
      st = 'w'
    end
  end
  if st ~= 'x' and st ~= 'r' and sold_out then st = 's' end
  reply[#reply + 1] = st
  reply[#reply + 1] = ahead
  reply[#reply + 1] = expires
end
return reply
