-- A counted login attempt had the right password (engine/accounts.py LoginThrottle): it was
-- no failure, so it leaves the e-mail's and the address's counts, the pair's count starts
-- over, and the pair is marked as logged in lately.
-- KEYS: as lua/login_attempt.lua. ARGV: 1 ms the pair stays known.
redis.call('DEL', KEYS[1])
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
redis.call('SET', KEYS[4], '1', 'PX', ARGV[1])
return 0
