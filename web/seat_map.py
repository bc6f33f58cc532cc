"""The seat map's drawing: seats placed by section, row and number, for an SVG.

A label is read as a row and a number ('B12' is seat 12 of row B; a label without a trailing
number is its own row). Sections are drawn one under the other, rows top to bottom in
natural order, seats left to right by number, so the preview looks like the hall's plan
for the usual A1..A20 layouts, without a drawn plan of the venue.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from engine.inventory import Seat

CELL = 22  # px between seat centres
SEAT = 16  # px seat square
ROW_LABEL = 34  # px left of the first seat, for the row's name
SECTION_GAP = 34  # px above each section, for its name
_LABEL = re.compile(r"^(.*?)(\d+)$")


@dataclass(frozen=True)
class DrawnSeat:
    x: int
    y: int
    label: str
    status: str
    price_cents: int


@dataclass
class DrawnSection:
    name: str
    y: int
    rows: list[tuple[str, int]] = field(default_factory=list)  # row name, y
    seats: list[DrawnSeat] = field(default_factory=list)


@dataclass
class SeatMap:
    width: int
    height: int
    sections: list[DrawnSection]
    counts: dict[str, int]


def _natural(text: str) -> tuple[int, str]:
    return (len(text), text)


def _row_and_number(label: str) -> tuple[str, int]:
    found = _LABEL.match(label)
    if found is None:
        return label, 1
    return found.group(1).rstrip(" -") or "#", int(found.group(2))


def draw(seats: list[Seat]) -> SeatMap:
    by_section: dict[str, dict[str, list[tuple[int, Seat]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    counts: dict[str, int] = defaultdict(int)
    for seat in seats:
        row, number = _row_and_number(seat.label)
        by_section[seat.section or "General"][row].append((number, seat))
        counts[seat.status] += 1
    sections: list[DrawnSection] = []
    y = 0
    width = ROW_LABEL + CELL
    for name in sorted(by_section, key=_natural):
        y += SECTION_GAP
        section = DrawnSection(name=name, y=y - 12)
        for row in sorted(by_section[name], key=_natural):
            placed = sorted(by_section[name][row], key=lambda pair: pair[0])
            section.rows.append((row, y + SEAT // 2))
            for index, (_, seat) in enumerate(placed):
                x = ROW_LABEL + index * CELL
                section.seats.append(DrawnSeat(x, y, seat.label, seat.status, seat.price_cents))
            width = max(width, ROW_LABEL + len(placed) * CELL)
            y += CELL
        sections.append(section)
    return SeatMap(width=width + 4, height=y + 6, sections=sections, counts=dict(counts))
