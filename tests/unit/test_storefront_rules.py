"""The storefront's pure rules: a sale's phase and the front page's shelves, seat labels
split into rows, the seat map's layout and statuses, the shared short-lived reads, and the
simulated card form's test numbers."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from engine.catalogue import Event, SaleWindow
from engine.errors import InvalidInput
from engine.hydration import Availability
from engine.inventory import Seat
from engine.seat_map import Recent, lay_out, split_label, statuses_from_marks
from engine.simulated_cards import DECLINE_TOKEN, SUCCESS_TOKEN, luhn_valid, payment_token
from engine.storefront import sale_phase, shelve

NOW = datetime(2027, 5, 1, 12, 0, tzinfo=UTC)


def event(
    event_id: int,
    opens_in: timedelta | None = timedelta(hours=-1),
    available: int = 10,
    status: str = "published",
) -> Event:
    sale = None
    if opens_in is not None:
        sale = SaleWindow(starts_at=NOW + opens_in, ends_at=NOW + opens_in + timedelta(days=2))
    return Event(
        id=event_id,
        partner_id=1,
        name=f"Event {event_id}",
        description="",
        venue="Arena",
        starts_at=NOW + timedelta(days=10, hours=event_id),
        ends_at=None,
        cover_image_url=None,
        status=status,  # type: ignore[arg-type]
        sale=sale,
        availability=Availability(available, 0, 0),
    )


def test_the_phase_of_a_sale_follows_its_window_and_stock() -> None:
    assert sale_phase(event(1), NOW) == "on_sale"
    assert sale_phase(event(1, available=0), NOW) == "sold_out"
    assert sale_phase(event(1, opens_in=timedelta(minutes=5)), NOW) == "coming_soon"
    assert sale_phase(event(1, opens_in=timedelta(days=-3)), NOW) == "ended"
    assert sale_phase(event(1, opens_in=None), NOW) == "not_on_sale"
    assert sale_phase(event(1, status="draft"), NOW) == "not_on_sale"
    # the opening instant itself is on sale, the closing one is not
    assert sale_phase(event(1, opens_in=timedelta(0)), NOW) == "on_sale"
    assert sale_phase(event(1, opens_in=timedelta(days=-2)), NOW) == "ended"


def test_the_front_page_has_two_shelves_and_leaves_the_rest_off() -> None:
    events = [
        event(1),
        event(2, opens_in=timedelta(hours=5)),
        event(3, opens_in=timedelta(hours=1)),
        event(4, available=0),
        event(5, opens_in=None),
        event(6, opens_in=timedelta(days=-5)),
    ]
    shelves = shelve(events, NOW, "next")
    assert [e.id for e in shelves.on_sale] == [1, 4]
    assert [e.id for e in shelves.coming_soon] == [3, 2]  # soonest opening first
    assert shelves.next_cursor == "next"


@pytest.mark.parametrize(
    ("label", "row", "number"),
    [("A12", "A", 12), ("Balcony-3", "Balcony", 3), ("7", "", 7), ("Box", "Box", None)],
)
def test_a_label_names_a_row_and_a_number(label: str, row: str, number: int | None) -> None:
    assert split_label(label) == (row, number)


def test_the_layout_groups_seats_by_section_then_row_in_number_order() -> None:
    def seat(seat_id: int, label: str, section: str | None) -> Seat:
        return Seat(seat_id, 9, label, section, 1000 + seat_id, "available")

    seats = [seat(1, "A10", "Floor"), seat(2, "A9", "Floor"), seat(3, "B1", "Floor")]
    seats += [seat(4, "A1", "Balcony"), seat(5, "Box", None)]
    layout = lay_out(9, seats)
    assert layout.seat_count == 5
    assert [s.name for s in layout.sections] == ["Floor", "Balcony", None]
    floor = layout.sections[0]
    assert [r.name for r in floor.rows] == ["A", "B"]
    assert [s.label for s in floor.rows[0].seats] == ["A9", "A10"]  # 9 before 10
    assert floor.rows[0].seats[0].price_cents == 1002


def test_statuses_list_the_held_and_sold_seats_from_redis_marks() -> None:
    marks = {"3": "h:order-1", "1": "s:order-2", "2": "a", "5": "s:order-3"}
    statuses = statuses_from_marks(9, marks)
    assert (statuses.held, statuses.sold, statuses.live) == ([3], [1, 5], True)


async def test_a_recent_value_is_shared_while_fresh_and_computed_once_at_a_time() -> None:
    clock = [0.0]
    recent: Recent[int] = Recent(1.0, clock=lambda: clock[0])
    calls = 0
    gate = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return calls

    waiting = [asyncio.create_task(recent.get(7, compute)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [1] * 50  # fifty callers, one computation
    assert await recent.get(7, compute) == 1  # still fresh
    clock[0] = 1.5
    assert await recent.get(7, compute) == 2  # stale: computed again
    assert calls == 2


async def test_a_failed_computation_reaches_its_waiters_and_is_not_kept() -> None:
    recent: Recent[int] = Recent(1.0)

    async def broken() -> int:
        await asyncio.sleep(0)
        raise ConnectionError("redis away")

    results = await asyncio.gather(
        recent.get(1, broken), recent.get(1, broken), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)

    async def fine() -> int:
        return 5

    assert await recent.get(1, fine) == 5


def test_the_documented_test_cards_succeed_and_decline() -> None:
    today = date(2027, 5, 1)
    assert payment_token("4242 4242 4242 4242", "12/30", "123", today) == SUCCESS_TOKEN
    assert payment_token("4000-0000-0000-0002", "05/27", "1234", today) == DECLINE_TOKEN
    assert DECLINE_TOKEN.startswith("tok_decline")  # what Orders.pay declines
    assert payment_token("5555555555554444", "01/2031", "999", today) == "tok_card_4444"
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


@pytest.mark.parametrize(
    ("number", "expiry", "code", "field"),
    [
        ("4242 4242 4242 4241", "12/30", "123", "card_number"),  # checksum
        ("4242", "12/30", "123", "card_number"),
        ("4242 4242 4242 424x", "12/30", "123", "card_number"),
        ("4242424242424242", "04/27", "123", "expiry"),  # the month before
        ("4242424242424242", "13/30", "123", "expiry"),
        ("4242424242424242", "1230", "123", "expiry"),
        ("4242424242424242", "12/30", "12", "security_code"),
        ("4242424242424242", "12/30", "12a", "security_code"),
    ],
)
def test_the_card_form_refuses_what_a_card_form_refuses(
    number: str, expiry: str, code: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        payment_token(number, expiry, code, date(2027, 5, 1))
    assert refused.value.extra["field"] == field
