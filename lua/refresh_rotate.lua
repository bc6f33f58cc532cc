-- Rotate a refresh token of one sign-in (engine/refresh_tokens.py), or revoke the sign-in.
-- KEYS[1]: the sign-in's HASH (engine/keys.py refresh_family): user, current, used:<digest>.
-- ARGV[1] 'rotate': ARGV[2] the presented token's digest, ARGV[3] its successor's digest,
--   ARGV[4] the sign-in's lifetime from now, ms. The current token is swapped for its
--   successor and remembered as used; a token that was already used means it leaked (its
--   holder and the rightful one both have it): the whole sign-in is revoked.
--   Returns {'ok', user id} | {'reused'} (revoked now) | {'unknown'} (no such sign-in, or a
--   token it never issued: nothing changes).
-- ARGV[1] 'revoke': the sign-in ends (log out). Returns {'ok'}.
local family = KEYS[1]
if ARGV[1] == 'revoke' then
  redis.call('DEL', family)
  return {'ok'}
end
local presented, successor, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
local user, current = unpack(redis.call('HMGET', family, 'user', 'current'))
if not user then return {'unknown'} end
if presented == current then
  redis.call('HSET', family, 'current', successor, 'used:' .. presented, '1')
  redis.call('PEXPIRE', family, ttl)
  return {'ok', user}
end
if redis.call('HEXISTS', family, 'used:' .. presented) == 1 then
  redis.call('DEL', family)
  return {'reused'}
end
return {'unknown'}
