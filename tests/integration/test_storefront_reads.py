"""What the storefront pages read, on real PostgreSQL and Redis: the front page's shelves
with search and dates, and an event's seat map whose statuses follow claims, payments and
releases as Redis keeps them, read at most once a second however many pages poll."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import NotFound
from engine.hydration import Availability
from engine.orders import EventClaim, requested_items
from engine.principal import Principal
from engine.seat_map import SeatMaps
from engine.store.pg_inventory import PgInventoryStore
from engine.store.resources import Resources
from engine.store.services import build_services
from loadtests.setup_data import create_customers, create_partner
from tests.concurrency.engine_client import RecordingJobQueue, engine_orders
from tests.sale_setup import open_sale


class CountingMarks:
    """Redis's seat marks, counting the reads the map makes."""

    def __init__(self, resources: Resources) -> None:
        self.inner = resources.inventory
        self.reads = 0

    async def seat_marks(self, event_id: int) -> dict[str, str]:
        self.reads += 1
        return await self.inner.seat_marks(event_id)

    async def counts(self, event_ids: list[int]) -> dict[int, Availability]:
        return await self.inner.counts(event_ids)

    async def pool_available(self, event_id: int) -> dict[int, int]:
        return await self.inner.pool_available(event_id)


async def test_the_seat_map_shows_claims_payments_and_releases(resources: Resources) -> None:
    partner = await create_partner(resources.pool)
    sale = await open_sale(resources, partner, seats=6, pools=(5,))
    (buyer,) = await create_customers(resources.pool, 1)
    clock = [0.0]
    marks = CountingMarks(resources)
    maps = SeatMaps(PgInventoryStore(resources.pool), marks, clock=lambda: clock[0])

    layout = await maps.layout(None, sale.event_id)
    assert layout.seat_count == 6
    (section,) = layout.sections
    assert [r.name for r in section.rows] == ["S"]
    assert [s.number for s in section.rows[0].seats] == [1, 2, 3, 4, 5, 6]
    before = await maps.statuses(None, sale.event_id)
    assert (before.held, before.sold, before.live) == ([], [], True)
    assert (before.available, before.ticket_types) == (11, {sale.pool_ids[0]: 5})

    orders = engine_orders(resources)
    customer = Principal(buyer, "customer")
    claims = [EventClaim(sale.event_id, seat_ids=sale.seat_ids[:2], pools={sale.pool_ids[0]: 2})]
    held = await orders.place(customer, claims, requested_items(claims))
    other = [EventClaim(sale.event_id, seat_ids=[sale.seat_ids[5]])]
    sold = await orders.place(customer, other, requested_items(other))
    await orders.pay(customer, sold.id, "tok_visa")

    # a second later than the last read: Redis is read again
    assert (await maps.statuses(None, sale.event_id)).held == []  # still the kept read
    clock[0] += 1.01
    now = await maps.statuses(None, sale.event_id)
    assert (now.held, now.sold) == (sale.seat_ids[:2], [sale.seat_ids[5]])
    assert (now.available, now.ticket_types) == (6, {sale.pool_ids[0]: 3})

    await orders.cancel(customer, held.id)
    clock[0] += 1.01
    after = await maps.statuses(None, sale.event_id)
    assert (after.held, after.sold) == ([], [sale.seat_ids[5]])
    assert marks.reads == 3


async def test_many_pages_polling_at_once_read_redis_once(resources: Resources) -> None:
    partner = await create_partner(resources.pool)
    sale = await open_sale(resources, partner, seats=300)
    marks = CountingMarks(resources)
    maps = SeatMaps(PgInventoryStore(resources.pool), marks)
    polls = await asyncio.gather(*(maps.statuses(None, sale.event_id) for _ in range(200)))
    assert len(polls) == 200 and marks.reads == 1


async def test_an_event_not_on_sale_shows_what_postgresql_recorded(
    resources: Resources,
) -> None:
    partner = await create_partner(resources.pool)
    sale = await open_sale(resources, partner, seats=3)
    await resources.inventory.forget(sale.event_id)  # off Redis, as after its sale
    await resources.pool.execute("UPDATE seats SET status = 'sold' WHERE id = $1", sale.seat_ids[1])
    maps = SeatMaps(PgInventoryStore(resources.pool), resources.inventory)
    statuses = await maps.statuses(None, sale.event_id)
    assert (statuses.held, statuses.sold, statuses.live) == ([], [sale.seat_ids[1]], False)


async def test_a_draft_has_no_public_seat_map(resources: Resources) -> None:
    partner = await create_partner(resources.pool)
    sale = await open_sale(resources, partner, seats=1)
    await resources.pool.execute("UPDATE events SET status = 'draft' WHERE id = $1", sale.event_id)
    maps = SeatMaps(PgInventoryStore(resources.pool), resources.inventory)
    with pytest.raises(NotFound):
        await maps.layout(None, sale.event_id)
    owner = Principal(partner, "partner", partner_id=partner)
    assert (await maps.layout(owner, sale.event_id)).seat_count == 1


async def test_the_front_page_sorts_events_onto_shelves_with_search_and_dates(
    resources: Resources,
) -> None:
    storefront = build_services(resources, RecordingJobQueue()).storefront
    partner = await create_partner(resources.pool)
    word = f"zebra{datetime.now(UTC).timestamp():.0f}"
    on_sale = await open_sale(resources, partner, seats=1, starts_in=timedelta(days=3))
    coming = await open_sale(
        resources, partner, seats=1, sale_opens_in=timedelta(hours=2), starts_in=timedelta(days=9)
    )
    for sale in (on_sale, coming):
        await resources.pool.execute(
            "UPDATE events SET name = $2 WHERE id = $1", sale.event_id, f"{word} {sale.event_id}"
        )
    now = datetime.now(UTC)
    shelves = await storefront.front_page(now, text=word)
    assert [e.id for e in shelves.on_sale] == [on_sale.event_id]
    assert [e.id for e in shelves.coming_soon] == [coming.event_id]
    assert shelves.on_sale[0].availability.available == 1  # live counts
    # dates: only the events starting in that range
    later = await storefront.front_page(now, text=word, starts_from=now + timedelta(days=5))
    assert ([e.id for e in later.on_sale], [e.id for e in later.coming_soon]) == (
        [],
        [coming.event_id],
    )
    nothing = await storefront.front_page(now, text=f"{word}-none")
    assert nothing.on_sale == [] and nothing.coming_soon == []
