-- Request-rate buckets (engine/rate_limits.py), prepended to the scripts that charge them.
-- A bucket lets `capacity` requests through at once and refills at `capacity` per `window_ms`.
-- It is kept as one number, the generic cell rate algorithm's "theoretical arrival time": the
-- moment (µs) at which the bucket would be full again (absent or past: full now). Taking a token adds
-- `window_ms / capacity`; a token is refused when that would put the time more than
-- `window_ms` ahead of now, and nothing is charged then.
-- The buckets of one call are read with one HMGET and written back with one HSET, however
-- many requests the call carries: a claim batch or a waiting room's polls pay a few Redis
-- commands for all their buckets, not two per bucket. The hash expires once every bucket in
-- it is full again, so forgetting it changes nothing.

-- Opens the buckets `fields` of the HASH `key` (duplicates allowed), all with one rule.
local function open_buckets(key, fields, capacity, window_ms)
  local buckets = {key = key, capacity = capacity, window_ms = window_ms,
                   step = window_ms / capacity, at = {}, changed = {}}
  if capacity <= 0 or #fields == 0 then return buckets end
  local unique, seen = {}, {}
  for _, field in ipairs(fields) do
    if not seen[field] then
      seen[field] = true
      unique[#unique + 1] = field
    end
  end
  local stored, at = redis.call('HMGET', key, unpack(unique)), buckets.at
  for i = 1, #unique do
    local us = tonumber(stored[i])  -- nil: full (absent, or a value of another form)
    if us then at[unique[i]] = us / 1000 end
  end
  return buckets
end

-- What taking a token from `field` would make its time, and 0; or nil and the ms until a
-- token is there. Nothing is charged (see charge).
local function peek_token(buckets, field, now)
  if buckets.capacity <= 0 then return nil, 0 end
  local at = buckets.at[field]
  if at == nil or at < now then at = now end
  at = at + buckets.step
  local ahead = at - now - buckets.window_ms
  if ahead > 0 then return nil, math.ceil(ahead) end
  return at, 0
end

local function charge(buckets, field, at)
  if at == nil then return end
  buckets.at[field] = at
  buckets.changed[field] = true
end

-- Takes a token from `field` when it has one: 0, or the ms until one is there.
local function take_token(buckets, field, now)
  local at, wait = peek_token(buckets, field, now)
  charge(buckets, field, at)
  return wait
end

-- Writes the buckets of `sets` (bucket sets of one HASH) that were charged, in one HSET, and
-- keeps the hash at least `expire_ms` more (the longest window of these buckets): by then
-- they are all full again. Times are kept in whole µs (an integer prints faster than a
-- fraction).
local function close_buckets(sets, expire_ms)
  local args = {}
  for _, buckets in ipairs(sets) do
    local at = buckets.at
    for field in pairs(buckets.changed) do
      args[#args + 1] = field
      args[#args + 1] = string.format('%d', at[field] * 1000 + 0.5)
    end
  end
  if #args == 0 then return end
  redis.call('HSET', sets[1].key, unpack(args))
  -- buckets of other rules may share the hash (an event's claims and payments): its life is
  -- only ever lengthened, so none of them is forgotten before it is full
  if redis.call('PTTL', sets[1].key) < expire_ms then
    redis.call('PEXPIRE', sets[1].key, expire_ms)
  end
end
