"""The dashboard reads PostgreSQL's report at most once per event per interval, whatever
the number of pollers, shares a report in flight, and never shows one partner's report to
another."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest

from engine.dashboard import HISTORY_SAMPLES, SAMPLE_EVERY_MS, Dashboard, LiveFigures
from engine.errors import NotFound
from engine.principal import Principal
from engine.reports import SalesReport

OWNER = Principal(user_id=1, role="partner", partner_id=1)
STAFF_OF_OTHER = Principal(user_id=9, role="partner", partner_id=2)


class FakeLive:
    def __init__(self) -> None:
        self.at_ms = 1_000_000
        self.sold = 2

    async def figures(self, event_id: int) -> LiveFigures:
        return LiveFigures(self.at_ms, True, 5, 1, self.sold, 1, 3, 0, 0, 0, 0, 0, 0)


class FakeSales:
    def __init__(self) -> None:
        self.calls = 0

    async def sales(self, partner: Principal, event_id: int) -> SalesReport:
        self.calls += 1
        await asyncio.sleep(0.01)
        if partner.partner_id != OWNER.partner_id:
            raise NotFound("No such event")
        return SalesReport(5, 1, 2, 900, {"paid": 2}, {}, 0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_one_report_per_interval_for_many_pollers() -> None:
    sales, clock = FakeSales(), Clock()
    dashboard = Dashboard(FakeLive(), sales, report_every_s=5, clock=clock)
    snapshots = await asyncio.gather(*(dashboard.snapshot(OWNER, 7) for _ in range(20)))
    assert sales.calls == 1
    assert all(s.report.revenue_cents == 900 and s.live.sold == 2 for s in snapshots)
    clock.now += 4
    await dashboard.snapshot(OWNER, 7)
    assert sales.calls == 1
    clock.now += 2
    await dashboard.snapshot(OWNER, 7)
    assert sales.calls == 2


async def test_another_partner_is_refused_even_when_cached() -> None:
    sales = FakeSales()
    dashboard = Dashboard(FakeLive(), sales, clock=Clock())
    await dashboard.snapshot(OWNER, 7)
    with pytest.raises(NotFound):
        await dashboard.snapshot(STAFF_OF_OTHER, 7)


async def test_a_failed_report_is_not_kept() -> None:
    sales = FakeSales()
    dashboard = Dashboard(FakeLive(), sales, clock=Clock())
    with pytest.raises(NotFound):
        await dashboard.snapshot(STAFF_OF_OTHER, 8)
    assert (await dashboard.snapshot(OWNER, 8)).report.sold == 2


async def test_history_keeps_a_sample_every_two_seconds_for_ten_minutes() -> None:
    live = FakeLive()
    dashboard = Dashboard(live, FakeSales(), clock=Clock())
    for step in range(1000):  # polls every 500 ms for 500 s, selling one a second
        live.at_ms = 1_000_000 + step * 500
        live.sold = step // 2
        await dashboard.snapshot(OWNER, 7)
    snapshot = await dashboard.snapshot(OWNER, 7, with_history=True)
    history = snapshot.history
    assert len(history) == 250  # 500 s of polls, one sample each 2 s
    gaps = {b.at_ms - a.at_ms for a, b in pairwise(history)}
    assert gaps == {SAMPLE_EVERY_MS}
    assert history[-1].sold == 498  # the last sample, taken at 498 s
    assert (await dashboard.snapshot(OWNER, 7)).history == []  # only when asked for
    for step in range(1000, 2000):
        live.at_ms = 1_000_000 + step * 500
        await dashboard.snapshot(OWNER, 7)
    assert len((await dashboard.snapshot(OWNER, 7, with_history=True)).history) == HISTORY_SAMPLES
