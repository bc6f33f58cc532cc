-- Token buckets (engine/rate_limits.py), prepended to the scripts that charge one. A bucket
-- is a HASH field "<tokens>|<ms of the last charge>": `capacity` tokens at most, refilled
-- at `capacity` per `window_ms`. The caller expires the hash `window_ms` after its last
-- charge: by then every bucket in it is full again, so forgetting it changes nothing.
-- Returns 0 when a token was taken, else the ms until one is there (nothing is charged).
local function take_token(key, field, capacity, window_ms, now)
  if capacity <= 0 then return 0 end
  local per_token_ms = window_ms / capacity
  local tokens = capacity
  local raw = redis.call('HGET', key, field)
  if raw then
    local bar = string.find(raw, '|', 1, true)
    local left, stamp = tonumber(string.sub(raw, 1, bar - 1)), tonumber(string.sub(raw, bar + 1))
    tokens = math.min(capacity, left + math.max(0, now - stamp) / per_token_ms)
  end
  if tokens < 1 then return math.ceil((1 - tokens) * per_token_ms) end
  redis.call('HSET', key, field, string.format('%.6f|%d', tokens - 1, now))
  return 0
end
