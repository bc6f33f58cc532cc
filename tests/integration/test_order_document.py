"""The Lua scripts write the order document engine/order_document.py defines: every script that
writes one (claim, add_lines, confirm, release, complete, dead_letter, restore_document) runs
on the real Redis, and each document it leaves is read raw and must decode into OrderDocument
and encode back to the same JSON. A field a script adds, drops, renames or writes with another
type than the Struct says fails here."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from engine import errors, keys
from engine.order_document import OrderDocument
from engine.order_ids import home_event_of, new_order_id
from engine.orders import EventClaim, order_from_document
from engine.persistence import Persister
from engine.principal import Principal
from engine.store.lua_json import decode_document, encode
from engine.store.redis_order_log import RedisOrderLog
from engine.store.resources import Resources
from tests.concurrency.engine_client import claim, create_customers, engine_orders
from tests.conftest import Actor
from tests.sale_setup import open_sale

pytestmark = pytest.mark.cluster


async def stored(resources: Resources, order_id: str) -> bytes:
    raw = await resources.redis.hget(keys.event_key(home_event_of(order_id), "orders"), order_id)
    assert raw is not None
    return bytes(raw)


def check_shape(raw: bytes | str) -> OrderDocument:
    """Decodes into the Struct and encodes back to what the script wrote: no field unknown to
    the Struct, none missing, each of its type (cjson's `{}` for no items read as `[]`)."""
    written: dict[str, Any] = msgspec.json.decode(raw)
    if written["items"] == {}:
        written["items"] = []
    document = decode_document(raw)
    assert msgspec.json.decode(encode(document)) == written
    order_from_document(document)  # and it reads as an order
    return document


async def check_stored(resources: Resources, order_id: str) -> OrderDocument:
    return check_shape(await stored(resources, order_id))


async def test_every_document_the_scripts_write_is_an_order_document(
    resources: Resources, partner: Actor
) -> None:
    first = await open_sale(resources, partner.id, seats=4, pools=(10,))
    second = await open_sale(resources, partner.id, seats=2)
    buyer_id, other_id = await create_customers(resources.pool, 2)
    buyer = Principal(buyer_id, "customer")
    orders = engine_orders(resources)
    order_log = RedisOrderLog(resources.redis, resources.scripts)
    persister = Persister(order_log, resources.order_store, resources.gate_keys())

    # lua/claim.lua: a seat and a general-admission unit; the reply carries the stored JSON
    claim_one = EventClaim(first.event_id, first.seat_ids[:1], {first.pool_ids[0]: 1})
    outcome = await resources.sale_store.claim(
        new_order_id(first.event_id), buyer_id, claim_one, True, "{}"
    )
    assert outcome.ok and outcome.document is not None
    reserved = await check_stored(resources, outcome.document.id)
    assert reserved == outcome.document
    assert (reserved.status, len(reserved.items), reserved.payment_ref) == ("reserved", 2, None)

    # lua/add_lines.lua: an order over two events
    spanning = await claim(
        orders,
        buyer_id,
        [
            EventClaim(first.event_id, first.seat_ids[1:2]),
            EventClaim(second.event_id, [second.seat_ids[0]]),
        ],
    )
    multi = await check_stored(resources, spanning)
    assert multi.events == [str(first.event_id), str(second.event_id)]

    # lua/confirm.lua (paid), lua/complete.lua (completed), lua/release.lua (cancelled)
    await orders.pay(buyer, spanning, "tok_visa")
    paid = await check_stored(resources, spanning)
    assert paid.status == "paid" and paid.payment_ref and paid.paid_at
    assert await persister.persist([spanning]) == 1
    assert (await check_stored(resources, spanning)).status == "completed"
    await orders.cancel(buyer, spanning)
    assert (await check_stored(resources, spanning)).status == "cancelled"

    # lua/release.lua: a declined payment, and a lapsed hold
    declined = await claim(orders, buyer_id, [EventClaim(first.event_id, first.seat_ids[2:3])])
    with pytest.raises(errors.PaymentDeclined):
        await orders.pay(buyer, declined, "tok_decline")
    assert (await check_stored(resources, declined)).status == "payment_failed"
    lapsed = await claim(orders, other_id, [EventClaim(first.event_id, first.seat_ids[3:4])])
    await resources.sale_store.release(first.event_id, lapsed, "expire", "hold_expired")
    assert (await check_stored(resources, lapsed)).history[-1].reason == "hold_expired"

    # lua/dead_letter.lua
    assert await order_log.dead_letter([(lapsed, "customer_missing", None)]) == {lapsed}
    letter = (await check_stored(resources, lapsed)).dead_letter
    assert letter is not None and letter.reason == "customer_missing"

    # lua/restore_document.lua, with the document engine.orders.document_of builds
    completed = await claim(orders, other_id, [EventClaim(second.event_id, [second.seat_ids[1]])])
    await orders.pay(Principal(other_id, "customer"), completed, "tok_visa")
    assert await persister.persist([completed]) == 1
    before = await check_stored(resources, completed)
    await resources.redis.hdel(keys.event_key(second.event_id, "orders"), completed)
    archived = await resources.order_store.document(completed)
    assert archived is not None
    assert await resources.sale_store.restore_document(completed, archived) == "ok"
    assert await check_stored(resources, completed) == before


async def test_a_document_without_lines_decodes_with_empty_items(
    resources: Resources, partner: Actor
) -> None:
    """cjson writes the empty items table as `{}`: a claim in the home event that takes
    nothing there (its lines are in the order's other events), also once set_status has
    decoded and encoded it again."""
    sale = await open_sale(resources, partner.id, seats=1)
    (buyer_id,) = await create_customers(resources.pool, 1)
    order_id = new_order_id(sale.event_id)
    outcome = await resources.sale_store.claim(
        order_id, buyer_id, EventClaim(sale.event_id), True, "{}"
    )
    assert outcome.ok and outcome.lines == []
    assert b'"items":{}' in await stored(resources, order_id)
    assert outcome.document is not None and outcome.document.items == []
    assert (await check_stored(resources, order_id)).items == []
    await resources.sale_store.release(sale.event_id, order_id, "rollback", "refused")
    document = await resources.sale_store.order_document(order_id)
    assert document is not None and (document.status, document.items) == ("cancelled", [])
    assert (await check_stored(resources, order_id)).status == "cancelled"
