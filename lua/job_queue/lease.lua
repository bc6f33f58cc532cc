-- Lease persist_order jobs for a batch (run on the job queue's Redis, not on an event's keys).
-- A lease is ARQ's own in-progress key: ARQ starts a job only if it creates that key first
-- (WATCH, EXISTS, MULTI), so whoever sets it owns the order until it is deleted or lapses.
-- A leased job also leaves the queue, so workers stop polling it while the batch runs.
-- KEYS[1]: the ARQ queue; KEYS[1 + i]: arq:in-progress:<order id i>.
-- ARGV[1]: lease value; ARGV[2]: lease ms (ARQ's own in-progress lease); ARGV[3]: take over
-- leases older than this many ms when allowed; ARGV[4]: lease at most this many;
-- ARGV[3 + 2i], ARGV[4 + 2i]: order id i, '1' if its lease may be taken over when stale.
-- Returns the order ids leased.
local owner, lease, stale, want = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]),
                                  tonumber(ARGV[4])
local leased = {}
for i = 2, #KEYS do
  if #leased >= want then break end
  local order_id, may_take_over = ARGV[3 + 2 * (i - 1)], ARGV[4 + 2 * (i - 1)] == '1'
  local ok = redis.call('SET', KEYS[i], owner, 'NX', 'PX', lease)
  if not ok and may_take_over then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl >= 0 and lease - ttl > stale then  -- set more than `stale` ms ago: its owner died
      ok = redis.call('SET', KEYS[i], owner, 'PX', lease)
    end
  end
  if ok then
    redis.call('ZREM', KEYS[1], order_id)
    leased[#leased + 1] = order_id
  end
end
return leased
