-- Queue persist_order jobs for a batch of paid orders (run on the job queue's Redis, not on an
-- event's keys), as ARQ's enqueue_job queues one: a job whose key or result already exists is
-- left alone (the order is already on its way), otherwise the job is stored with its expiry
-- and put on the queue, due at once.
-- KEYS[1]: the ARQ queue; KEYS[2i], KEYS[2i + 1]: arq:job:<id i>, arq:result:<id i>.
-- ARGV[1]: the jobs' expiry ms; ARGV[2]: their score (enqueue time, ms);
-- ARGV[1 + 2i], ARGV[2 + 2i]: job id i, its serialized job.
-- Returns how many jobs were queued.
local expires, score = tonumber(ARGV[1]), tonumber(ARGV[2])
local queued = 0
for i = 1, (#KEYS - 1) / 2 do
  local job_key, result_key = KEYS[2 * i], KEYS[2 * i + 1]
  if redis.call('EXISTS', job_key, result_key) == 0 then
    redis.call('PSETEX', job_key, expires, ARGV[2 * i + 2])
    redis.call('ZADD', KEYS[1], score, ARGV[2 * i + 1])
    queued = queued + 1
  end
end
return queued
