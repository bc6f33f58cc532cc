-- Pay a batch of orders whose documents live in this event, each in one step: lock, charge's
-- outcome, sell and record, where an order spanning events takes lua/pay_begin.lua and
-- lua/confirm.lua in each of its events (engine/orders.py).
-- ARGV[1]: JSON list of payments {o: order id, c: the paying customer's id, p: the payment
-- reference, or '' when the payment was declined}.
-- ARGV[2..3] (absent or 0: no rate limit): payments per customer in a burst, over ms
-- (engine/rate_limits.py). Each payment first takes a token from its customer's payments
-- bucket in this event, the order's home (K_RATE field 'p:<customer>', lua/_bucket.lua: read
-- and written once for the batch); without one it is refused {err='rate_limited', x=ms to
-- wait} before anything else is looked at, whatever path the payment would then take.
-- Each payment, on its own, with the rules of the step-by-step path:
--   the order must be the customer's, reserved, and still held here;
--   a hold that lapsed is released, the order expired and the refusal recorded;
--   a declined payment puts the part back on sale, the order payment_failed, the refusal
--   recorded;
--   otherwise the part is sold, the order paid and written into the outbox in this same
--   script, so a paid order is never only in the caller's memory; its hold ends, which frees
--   a waiting-room slot that followed it.
-- Returns a JSON list, one entry per payment: {ok=1, d=the paid document's JSON, as stored}
-- or {err=code, x=detail}: 'rate_limited', 'elsewhere' (no document here, or the order spans
-- events: take the step-by-step path, which tells the rest; its token is taken), 'not_found' (another customer's),
-- 'invalid_state' (x: the order's status, or 'paying' when another payment holds the lock),
-- 'hold_expired', 'payment_declined'.
local payments = cjson.decode(ARGV[1])
local now = now_ms()
local results = {}
local per_customer, window_ms = tonumber(ARGV[2] or '0'), tonumber(ARGV[3] or '0')
local buckets
if per_customer > 0 then
  local fields = {}
  for i, payment in ipairs(payments) do fields[i] = 'p:' .. payment.c end
  buckets = open_buckets(K_RATE, fields, per_customer, window_ms)
end

local function pay_one(payment)
  local order_id = payment.o
  local raw = redis.call('HGET', K_ORDERS, order_id)
  if not raw then return {err = 'elsewhere'} end
  local doc = cjson.decode(raw)
  if doc.customer_id ~= payment.c then return {err = 'not_found'} end
  if #doc.events ~= 1 then return {err = 'elsewhere'} end
  if doc.status ~= 'reserved' then
    if doc.status == 'expired' then
      log_refusal(payment.c, 'hold_expired', order_id, now)
      return {err = 'hold_expired'}
    end
    return {err = 'invalid_state', x = doc.status}
  end
  local part = load_part(order_id)
  if not part then  -- still reserved with nothing held: the sweep took the hold just now
    set_status(order_id, 'expired', now, 'hold_expired', {reserved = true})
    log_refusal(payment.c, 'hold_expired', order_id, now)
    return {err = 'hold_expired'}
  end
  if part.st ~= 'held' then return {err = 'invalid_state', x = part.st} end
  if expire_if_lapsed(order_id, now) then
    log_refusal(payment.c, 'hold_expired', order_id, now)
    return {err = 'hold_expired'}
  end
  if payment.p == '' then
    release_part(order_id, part)
    set_status(order_id, 'payment_failed', now, 'payment_declined', {reserved = true})
    log_refusal(payment.c, 'payment_declined', order_id, now)
    return {err = 'payment_declined'}
  end
  sell_part(order_id, part)
  -- set_status's change, on the document already read: encoded once, and handed back
  doc.status, doc.payment_ref, doc.paid_at = 'paid', payment.p, now
  doc.history[#doc.history + 1] = {status = 'paid', at = now, reason = cjson.null}
  local encoded = cjson.encode(doc)
  redis.call('HSET', K_ORDERS, order_id, encoded)
  redis.call('ZADD', K_CHANGES, now, order_id)
  redis.call('ZADD', K_OUTBOX, now, order_id)
  return {ok = 1, d = encoded}
end

for i, payment in ipairs(payments) do
  local wait = buckets and take_token(buckets, 'p:' .. payment.c, now) or 0
  results[i] = wait > 0 and {err = 'rate_limited', x = wait} or pay_one(payment)
end
if buckets then close_buckets({buckets}, window_ms) end
return cjson.encode(results)
