-- A multi-event order: add the lines claimed in other events to the document at its home.
-- ARGV[1]: order id, ARGV[2]: JSON {items, events, expires_at}. Returns 'ok' | 'missing'.
local order_id = ARGV[1]
local extra = cjson.decode(ARGV[2])
local raw = redis.call('HGET', K_ORDERS, order_id)
if not raw then return 'missing' end
local doc = cjson.decode(raw)
for _, item in ipairs(extra.items) do
  doc.items[#doc.items + 1] = item
  doc.total_cents = doc.total_cents + item.price_cents
end
for _, event in ipairs(extra.events) do doc.events[#doc.events + 1] = event end
if extra.expires_at < doc.expires_at then doc.expires_at = extra.expires_at end
redis.call('HSET', K_ORDERS, order_id, cjson.encode(doc))
return 'ok'
