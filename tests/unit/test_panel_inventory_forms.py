"""The inventory page's own readings: rows typed as a range or a list, a pasted seat list, and
the seat map's placement of seats by section, row and number."""

from __future__ import annotations

import pytest

from engine.errors import InvalidInput
from engine.inventory import Seat, SeatStatus
from web.panel_inventory import pasted_seats, row_names
from web.seat_map import draw


def test_rows_as_a_range_or_names() -> None:
    assert row_names("A-D") == ["A", "B", "C", "D"]
    assert row_names(" b - c ") == ["B", "C"]
    assert row_names("A, B,AA  BB") == ["A", "B", "AA", "BB"]
    assert row_names("D-A") == []  # refused downstream as no rows


def test_pasted_seats() -> None:
    assert pasted_seats("BOX1, 120, Boxes\n\nA1, 45.5\n") == [
        {"label": "BOX1", "price_cents": 12000, "section": "Boxes"},
        {"label": "A1", "price_cents": 4550},
    ]
    with pytest.raises(InvalidInput, match="Line 2"):
        pasted_seats("A1, 10\nA2")
    with pytest.raises(InvalidInput, match="Line 1"):
        pasted_seats("A1, ten")
    with pytest.raises(InvalidInput):
        pasted_seats("  \n")


def seat(seat_id: int, label: str, section: str | None, status: SeatStatus = "available") -> Seat:
    return Seat(seat_id, 1, label, section, 1000, status)


def test_seat_map_places_rows_in_natural_order() -> None:
    seats = [
        seat(1, "A10", "Stalls"),
        seat(2, "A2", "Stalls", "sold"),
        seat(3, "B1", "Stalls", "held"),
        seat(4, "AA1", "Stalls"),
        seat(5, "Pit", None),
    ]
    drawn = draw(seats)
    assert [section.name for section in drawn.sections] == ["Stalls", "General"]
    stalls = drawn.sections[0]
    assert [row for row, _ in stalls.rows] == ["A", "B", "AA"]
    first_row = [s.label for s in stalls.seats if s.y == stalls.seats[0].y]
    assert first_row == ["A2", "A10"]  # by number, not by text
    assert drawn.counts == {"available": 3, "sold": 1, "held": 1}
    assert drawn.width > 0 and drawn.height > drawn.sections[-1].y
