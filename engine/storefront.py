"""What the storefront shows: events on sale and coming soon, and the phase of a sale.

The catalogue (engine/catalogue.py) lists published events with their live counts; this
module sorts them onto the front page's two shelves by where their on-sale window stands
now. An event with no window, or whose window has ended, is not on the front page (its own
page still answers, saying so).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from engine.catalogue import Catalogue, Event, EventQuery

SalePhase = Literal["on_sale", "sold_out", "coming_soon", "ended", "not_on_sale"]
FRONT_PAGE_EVENTS = 100  # events read for one front page (one page of the catalogue)


def sale_phase(event: Event, now: datetime) -> SalePhase:
    """Where the event's sale stands at `now`: sold out means nothing available now (held
    seats may come back when their holds lapse)."""
    sale = event.sale
    if event.status != "published" or sale is None:
        return "not_on_sale"
    if now >= sale.ends_at:
        return "ended"
    if now < sale.starts_at:
        return "coming_soon"
    return "sold_out" if event.availability.available <= 0 else "on_sale"


class Shelves(msgspec.Struct):
    """The front page: on sale now (sold-out ones too: their holds may lapse), soonest
    event first; coming soon, soonest opening first; and the cursor of the catalogue's next
    page when there is more."""

    on_sale: list[Event]
    coming_soon: list[Event]
    next_cursor: str | None = None


def shelve(events: list[Event], now: datetime, next_cursor: str | None = None) -> Shelves:
    on_sale = [e for e in events if sale_phase(e, now) in ("on_sale", "sold_out")]
    coming = [e for e in events if sale_phase(e, now) == "coming_soon"]
    coming.sort(key=lambda e: (e.sale.starts_at if e.sale else e.starts_at, e.id))
    return Shelves(on_sale, coming, next_cursor)


class Storefront:
    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    async def front_page(
        self,
        now: datetime,
        text: str | None = None,
        starts_from: datetime | None = None,
        starts_to: datetime | None = None,
        cursor: str | None = None,
    ) -> Shelves:
        """Published events that have not started (or start within the dates asked), whose
        name, venue or description match `text`, by shelf."""
        query = EventQuery(text=text, starts_from=starts_from or now, starts_to=starts_to)
        page = await self._catalogue.list_events(query, FRONT_PAGE_EVENTS, cursor)
        return shelve(page.items, now, page.next_cursor)
