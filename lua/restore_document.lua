-- Put back the document of a completed order whose home is this event, after Redis lost its
-- data: hydration restored the order's sold part from PostgreSQL but not its document, so
-- it could no longer be cancelled. Only where the sold part is here again (the event is on
-- sale and hydrated), and never over a document Redis has: PostgreSQL already holds this
-- state, so no change is queued.
-- ARGV[1]: order id; ARGV[2]: the document's JSON, built from PostgreSQL.
-- Returns 'ok' (restored), 'exists' (Redis had one) or 'gone' (no sold part here).
local order_id = ARGV[1]
if redis.call('HEXISTS', K_ORDERS, order_id) == 1 then return 'exists' end
local part = load_part(order_id)
if not part or part.st ~= 'sold' then return 'gone' end
redis.call('HSET', K_ORDERS, order_id, ARGV[2])
return 'ok'
