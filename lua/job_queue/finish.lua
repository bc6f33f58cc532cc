-- Persisted: forget these orders' jobs as ARQ does after a success (no result is kept), and
-- the leases this owner holds on them.
-- KEYS[1]: the ARQ queue; then per order: arq:in-progress:<id>, arq:job:<id>, arq:retry:<id>.
-- ARGV[1]: lease value; ARGV[1 + i]: order id i.
for i = 2, #ARGV do
  local base = 2 + 3 * (i - 2)
  if redis.call('GET', KEYS[base]) == ARGV[1] then redis.call('DEL', KEYS[base]) end
  redis.call('DEL', KEYS[base + 1], KEYS[base + 2])
  redis.call('ZREM', KEYS[1], ARGV[i])
end
return #ARGV - 1
