"""The app's CPU per request without HTTP (loadtests/bench_app_cost.py), as `make bench` runs
it: every request of every kind gets its success status, 64 in flight from the first round
on (a gate's first burst included), and each figure is a positive number of microseconds."""

from __future__ import annotations

import pytest

from loadtests import bench_app_cost
from tests import services as test_services


async def test_every_kind_is_answered_with_its_success_and_measured(
    services: test_services.TestServices,
) -> None:
    figures = await bench_app_cost.measure(requests=300, rounds=1)
    for kind in bench_app_cost.KINDS:
        assert figures[f"app_us_per_{kind}"] > 0
        assert figures[f"app_us_per_{kind}_rounds"] == [figures[f"app_us_per_{kind}"]]
    rows = bench_app_cost.report_rows(figures)
    assert sum(row.startswith(f"| {kind} |") for row in rows for kind in bench_app_cost.KINDS) == 4


async def test_a_kind_answered_otherwise_stops_the_bench() -> None:
    async def refusing(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 409, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    kind = bench_app_cost.Kind("claim", [{"path": "/orders", "method": "POST"}], 201, False)
    cost, statuses = await bench_app_cost.run_kind(refusing, kind, 10, 0)
    assert statuses == {409: 10} and cost >= 0
    with pytest.raises(SystemExit, match="claim: answered"):
        bench_app_cost.check(kind, statuses)
