"""Inventory rules, without a server."""

from __future__ import annotations

import pytest

from engine.errors import DuplicateSeat, InvalidInput
from engine.hydration import Availability
from engine.inventory import (
    MAX_LABEL_LENGTH,
    MAX_SEATS_PER_REQUEST,
    EventAccess,
    NewSeat,
    SeatRows,
    StoredTicketType,
    after_id,
    can_view,
    check_new_seats,
    is_owner,
    name_some,
    repeated_labels,
    row_labels,
    seat_status,
    seats_from_rows,
    ticket_availability,
    units_taken,
)
from engine.pagination import encode_cursor
from engine.principal import Principal

OWNER = Principal(user_id=7, role="partner", partner_id=7)
OTHER_PARTNER = Principal(user_id=8, role="partner", partner_id=8)
OWNERS_STAFF = Principal(user_id=9, role="staff", partner_id=7)
CUSTOMER = Principal(user_id=10, role="customer")


def test_row_labels_number_each_row_from_one() -> None:
    assert row_labels(["A", "B"], 3) == ["A1", "A2", "A3", "B1", "B2", "B3"]
    assert row_labels(["AA"], 1) == ["AA1"]
    assert row_labels(["Balcony-"], 12)[-1] == "Balcony-12"


def test_seats_from_rows_carry_price_and_section() -> None:
    seats = seats_from_rows(SeatRows(["A"], 2, price_cents=4200, section="Floor"))
    assert seats == [NewSeat("A1", 4200, "Floor"), NewSeat("A2", 4200, "Floor")]


def test_seats_from_rows_refuses_more_than_the_request_limit() -> None:
    assert len(seats_from_rows(SeatRows(["A", "B"], MAX_SEATS_PER_REQUEST // 2, 1))) == (
        MAX_SEATS_PER_REQUEST
    )
    with pytest.raises(InvalidInput):
        seats_from_rows(SeatRows(["A", "B", "C"], MAX_SEATS_PER_REQUEST // 2, 1))


def test_repeated_labels_are_each_named_once_in_first_seen_order() -> None:
    assert repeated_labels(["B1", "A1", "B1", "C1", "A1", "B1"]) == ["B1", "A1"]
    assert repeated_labels(["A1", "a1"]) == []


def test_check_new_seats_names_labels_repeated_within_the_request() -> None:
    labels = row_labels(["A", "A1"], 11)  # "A11" twice
    with pytest.raises(DuplicateSeat) as raised:
        check_new_seats([NewSeat(label, 1) for label in labels])
    assert raised.value.extra["labels"] == ["A11"]
    assert "A11" in raised.value.detail


def test_check_new_seats_bounds_count_and_label_length() -> None:
    check_new_seats([NewSeat("x" * MAX_LABEL_LENGTH, 1)])
    with pytest.raises(InvalidInput):
        check_new_seats([])
    with pytest.raises(InvalidInput):
        check_new_seats([NewSeat("x" * (MAX_LABEL_LENGTH + 1), 1)])
    with pytest.raises(InvalidInput):
        check_new_seats([NewSeat(f"S{n}", 1) for n in range(MAX_SEATS_PER_REQUEST + 1)])


def test_name_some_caps_long_lists() -> None:
    assert name_some(["A1", "A2"]) == "A1, A2"
    labels = [f"S{n}" for n in range(25)]
    assert name_some(labels) == ", ".join(labels[:20]) + " (and 5 more)"


@pytest.mark.parametrize(
    ("stored", "live_mark", "expected"),
    [
        ("available", None, "available"),
        ("sold", None, "sold"),
        ("available", "a", "available"),
        ("available", "h:ord1", "held"),
        ("available", "s:ord1", "sold"),
        # Redis knows of a cancellation PostgreSQL has not recorded yet
        ("sold", "a", "available"),
    ],
)
def test_live_mark_wins_over_the_stored_status(
    stored: str, live_mark: str | None, expected: str
) -> None:
    assert seat_status(stored, live_mark) == expected  # type: ignore[arg-type]


def test_units_taken_come_from_redis_while_on_sale() -> None:
    stored = StoredTicketType(id=1, event_id=2, name="GA", price_cents=1, quantity=10, sold=3)
    assert units_taken(stored, None) == 3
    assert units_taken(stored, Availability(available=3, held=2, sold=5)) == 7


def test_ticket_availability_never_goes_negative() -> None:
    assert ticket_availability(10, 0) == 10
    assert ticket_availability(10, 7) == 3
    assert ticket_availability(5, 7) == 0


def test_published_events_are_visible_to_all_drafts_to_their_owner_only() -> None:
    published = EventAccess(event_id=1, partner_id=7, status="published")
    draft = EventAccess(event_id=2, partner_id=7, status="draft")
    for viewer in (None, OWNER, OTHER_PARTNER, OWNERS_STAFF, CUSTOMER):
        assert can_view(published, viewer)
    assert can_view(draft, OWNER)
    for viewer in (None, OTHER_PARTNER, OWNERS_STAFF, CUSTOMER):
        assert not can_view(draft, viewer)


def test_only_the_partner_itself_owns_its_events() -> None:
    event = EventAccess(event_id=1, partner_id=7, status="published")
    assert is_owner(event, OWNER)
    assert not is_owner(event, OWNERS_STAFF)
    assert not is_owner(event, OTHER_PARTNER)
    assert not is_owner(event, None)


def test_after_id_reads_the_cursor_and_refuses_tampered_ones() -> None:
    assert after_id(None) == 0
    assert after_id(encode_cursor(42)) == 42
    for bad in (
        encode_cursor("42"),
        encode_cursor(True),
        encode_cursor(-1),
        encode_cursor(2**63),
        encode_cursor(1, 2),
        "%%%",
    ):
        with pytest.raises(InvalidInput):
            after_id(bad)
