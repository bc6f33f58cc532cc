-- Not persisted (PostgreSQL away, say): give up these leases and put each job back on the
-- queue, due after a delay, for ARQ (or a batch) to try again. A job never enqueued stays
-- with the outbox, whose reconciler enqueues it.
-- KEYS[1]: the ARQ queue; then per order: arq:in-progress:<id>, arq:job:<id>.
-- ARGV[1]: lease value; ARGV[2]: delay ms; ARGV[2 + i]: order id i.
local t = redis.call('TIME')
local due = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
for i = 3, #ARGV do
  local base = 2 + 2 * (i - 3)
  if redis.call('GET', KEYS[base]) == ARGV[1] then
    redis.call('DEL', KEYS[base])
    if redis.call('EXISTS', KEYS[base + 1]) == 1 then
      redis.call('ZADD', KEYS[1], 'NX', due, ARGV[i])
    end
  end
end
return #ARGV - 2
