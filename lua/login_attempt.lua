-- Count a login attempt before its password is checked (engine/accounts.py LoginThrottle),
-- so that however many arrive at once, at most the limit are checked.
-- KEYS (engine/keys.py, one hash tag): 1 failures of the (e-mail, address) pair, 2 of the
-- e-mail, 3 of the address, 4 the pair's "logged in lately" mark.
-- ARGV: 1 pair limit, 2 e-mail limit, 3 address limit, 4 window seconds.
-- The pair's own limit always applies; the e-mail's and the address's ceilings do not hold
-- back a pair that logged in lately, so neither an attacker elsewhere nor a noisy neighbour
-- behind the same address locks out a customer on the device they use.
-- Returns 0 (counted: check the password), or the seconds to wait (nothing counted).
local window = tonumber(ARGV[4])

local function wait_for(key, limit)
  if limit <= 0 then return 0 end
  if tonumber(redis.call('GET', key) or '0') < limit then return 0 end
  return math.max(redis.call('TTL', key), 1)
end

local wait = wait_for(KEYS[1], tonumber(ARGV[1]))
if redis.call('EXISTS', KEYS[4]) == 0 then
  wait = math.max(wait, wait_for(KEYS[2], tonumber(ARGV[2])), wait_for(KEYS[3], tonumber(ARGV[3])))
end
if wait > 0 then return wait end
for i = 1, 3 do
  if redis.call('INCR', KEYS[i]) == 1 or redis.call('TTL', KEYS[i]) < 0 then
    redis.call('EXPIRE', KEYS[i], window)
  end
end
return 0
