"""The figures of a partner's live dashboard, cheap enough to poll every two seconds during
a flash sale.

Two sources, each read the cheapest way it can be:

- `LiveFigures`, from counters the sale engine keeps in Redis anyway (the event's counts,
  the size of its holds, orders and waiting-room sets, the totals its streams count): a
  fixed handful of O(1) reads in one round trip, never a scan and never a Lua script, so a
  dashboard adds nothing to the claim path's work.
- the `SalesReport` from PostgreSQL (revenue, orders by status, refusals by reason,
  check-ins): at most one query set per event every REPORT_EVERY_S in a process, however
  many dashboards are open, and one at a time (pollers arriving while it runs wait for it).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import msgspec

from engine.principal import Principal
from engine.reports import SalesReport

REPORT_EVERY_S = 5.0
SAMPLE_EVERY_MS = 2000  # the history keeps a sample this often at most...
HISTORY_SAMPLES = 300  # ...and this many (ten minutes), per event, in this process


class LiveFigures(msgspec.Struct):
    """An event's sale as Redis has it this instant; `live` False when it is not loaded in
    Redis (no on-sale window), and then every count is 0."""

    at_ms: int  # Redis's clock
    live: bool
    available: int
    held: int
    sold: int
    holding_orders: int  # orders holding seats or units now
    orders_placed: int  # orders whose home is this event, since it was loaded
    refusals_total: int  # refused purchases, since it was loaded
    scans_total: int  # gate scans, since it was loaded
    waiting: int  # in the waiting room's line (before and after the opening)
    shopping: int  # admitted and within their shopping slot
    joined: int  # ever joined the waiting room
    admitted_recent: int  # admitted in the current 30 s bucket


class Sample(msgspec.Struct, array_like=True):
    """One point of the dashboard's charts (a JSON array, to keep a history small)."""

    at_ms: int
    sold: int
    orders_placed: int
    refusals_total: int
    waiting: int


class Snapshot(msgspec.Struct):
    live: LiveFigures
    report: SalesReport
    report_age_ms: int
    # the samples this process took of the event lately, oldest first, when asked for
    history: list[Sample] = msgspec.field(default_factory=list)


class LiveFiguresSource(Protocol):
    async def figures(self, event_id: int) -> LiveFigures: ...


class SalesSource(Protocol):
    async def sales(self, partner: Principal, event_id: int) -> SalesReport:
        """NotFound unless `partner` owns the event."""


class _Cached(msgspec.Struct):
    partner_id: int | None
    report: SalesReport
    fetched: float


class Dashboard:
    def __init__(
        self,
        live: LiveFiguresSource,
        sales: SalesSource,
        report_every_s: float = REPORT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._live = live
        self._sales = sales
        self._every = report_every_s
        self._clock = clock
        self._reports: dict[int, _Cached] = {}
        self._pending: dict[int, asyncio.Future[_Cached]] = {}
        self._history: dict[int, deque[Sample]] = {}

    async def snapshot(
        self, partner: Principal, event_id: int, with_history: bool = False
    ) -> Snapshot:
        """The figures now; `with_history` adds the samples of the last minutes, so a
        dashboard opened in the middle of a sale draws its charts at once."""
        cached = await self._report(partner, event_id)
        live = await self._live.figures(event_id)
        history = self._remember(event_id, live)
        age = int((self._clock() - cached.fetched) * 1000)
        return Snapshot(
            live=live,
            report=cached.report,
            report_age_ms=age,
            history=list(history) if with_history else [],
        )

    def _remember(self, event_id: int, live: LiveFigures) -> deque[Sample]:
        """Every poll of any dashboard of the event samples it, once per SAMPLE_EVERY_MS."""
        history = self._history.setdefault(event_id, deque(maxlen=HISTORY_SAMPLES))
        if live.live and (not history or live.at_ms - history[-1].at_ms >= SAMPLE_EVERY_MS):
            history.append(
                Sample(live.at_ms, live.sold, live.orders_placed, live.refusals_total, live.waiting)
            )
        return history

    async def _report(self, partner: Principal, event_id: int) -> _Cached:
        cached = self._reports.get(event_id)
        fresh = cached is not None and self._clock() - cached.fetched < self._every
        if cached is not None and fresh and cached.partner_id == partner.partner_id:
            return cached
        if cached is not None and cached.partner_id != partner.partner_id:
            return await self._fetch(partner, event_id)  # says NotFound to another partner
        pending = self._pending.get(event_id)
        if pending is not None:
            shared = await asyncio.shield(pending)
            if shared.partner_id == partner.partner_id:
                return shared
            return await self._fetch(partner, event_id)
        future: asyncio.Future[_Cached] = asyncio.get_running_loop().create_future()
        self._pending[event_id] = future
        try:
            result = await self._fetch(partner, event_id)
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._pending[event_id]

    async def _fetch(self, partner: Principal, event_id: int) -> _Cached:
        report = await self._sales.sales(partner, event_id)
        cached = _Cached(partner.partner_id, report, self._clock())
        self._reports[event_id] = cached
        return cached
