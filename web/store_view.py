"""What the customer pages share: their language's texts, prices and moments, and the seat
map drawn as SVG.

Prices are minor units of the one configured currency (CURRENCY), an event's moments are shown
in its own time zone (or the configured TIME_ZONE), each written the way the visitor's
language writes them
(engine/locales.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from litestar import Request
from litestar.response import Template

from api.services import services_of
from engine.locales import Messages, messages_for
from engine.seat_map import SeatLayout
from web.i18n import N_, language_of
from web.pages import render

# order and ticket statuses as the pages name them (translated where shown)
STATUS_NAMES = {
    "reserved": N_("reserved"),
    "paid": N_("paid"),
    "completed": N_("completed"),
    "cancelled": N_("cancelled"),
    "expired": N_("expired"),
    "payment_failed": N_("payment failed"),
    "valid": N_("valid"),
    "used": N_("used"),
    "void": N_("void"),
}
SEAT = 26  # px: one seat's square in the map's own units (the SVG scales to its box)
GAP = 6
ROW_LABEL = 34  # room left of each row for its name
SECTION_TITLE = 30  # room above each section for its name


def words(request: Request[Any, Any, Any]) -> Messages:
    return messages_for(language_of(request))


def now() -> datetime:
    return datetime.now(UTC)


def shop_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """`price(cents)`, `moment(at)` and `day(at)` for the templates, in the page's language."""
    settings = services_of(request.app).resources.settings
    texts = words(request)
    return {
        "price": lambda cents: texts.money(cents, settings.currency),
        # an event's times in its own zone when it has one, else the site's
        "moment": lambda at, zone=None: texts.moment(at, zone or settings.time_zone) if at else "",
        "day": lambda at, zone=None: texts.day(at, zone or settings.time_zone) if at else "",
        "iso": lambda at: at.isoformat() if at else "",
        "status_name": lambda status: texts.gettext(STATUS_NAMES.get(status) or status),
        "ngettext": texts.ngettext,
        # a plural's form for `count`, with %(num)s left in, for scripts to fill in
        "plural_text": lambda singular, plural, count: texts.translations.ungettext(
            singular, plural, count
        ),
        "currency": settings.currency,
    }


async def shop_page(
    request: Request[Any, Any, Any], template: str, status: int = 200, **context: Any
) -> Template:
    return await render(request, template, status, **shop_context(request), **context)


@dataclass(frozen=True, slots=True)
class DrawnSeat:
    id: int
    label: str
    x: int
    y: int
    price_cents: int


@dataclass(frozen=True, slots=True)
class DrawnText:
    text: str
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class SeatDrawing:
    """Every seat's square and every row's and section's name, placed: sections one under
    another, each row a line of seats in number order."""

    width: int
    height: int
    seats: list[DrawnSeat]
    labels: list[DrawnText]
    sections: list[DrawnText]


def draw(layout: SeatLayout) -> SeatDrawing:
    seats: list[DrawnSeat] = []
    labels: list[DrawnText] = []
    titles: list[DrawnText] = []
    y = 0
    widest = 0
    for section in layout.sections:
        if section.name:
            titles.append(DrawnText(section.name, 0, y + SECTION_TITLE - 10))
            y += SECTION_TITLE
        for row in section.rows:
            labels.append(DrawnText(row.name, 0, y + SEAT // 2 + 5))
            for index, seat in enumerate(row.seats):
                x = ROW_LABEL + index * (SEAT + GAP)
                seats.append(DrawnSeat(seat.id, seat.label, x, y, seat.price_cents))
            widest = max(widest, ROW_LABEL + len(row.seats) * (SEAT + GAP))
            y += SEAT + GAP
        y += GAP * 2
    return SeatDrawing(max(widest, ROW_LABEL + SEAT), max(y, SEAT), seats, labels, titles)
