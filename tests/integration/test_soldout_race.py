"""The sell-out race of `make bench` (loadtests/bench_soldout.py, loadtests/soldout_load.py)
against a real API process: it runs until the pool is sold out, counts what it was answered,
and its oversold check sees units sold beyond the pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine import keys
from engine.principal import Principal
from engine.settings import get_settings
from engine.store.resources import Resources
from engine.tokens import issue_access_token
from loadtests.bench_soldout import oversold, soldout_race
from loadtests.setup_data import create_customers, create_partner
from tests import services as test_services
from tests.api_server import running_api
from tests.sale_setup import open_sale


@pytest.fixture(scope="module")
def api_port(services: test_services.TestServices) -> Iterator[int]:
    with running_api() as base:
        yield int(base.rsplit(":", 1)[1])


async def test_the_race_sells_the_pool_out_and_counts_every_answer(
    api_port: int, resources: Resources
) -> None:
    partner = await create_partner(resources.pool)
    customers = await create_customers(resources.pool, 8)
    secret = get_settings().jwt_secret
    tokens = [issue_access_token(Principal(c, "customer"), secret, 600) for c in customers]
    sale = await open_sale(resources, partner, pools=(60,), limit=60)

    result = soldout_race(api_port, sale, tokens)

    assert result["paid"] == 60
    assert result["claims"] == {"201": 60, "409": 8}  # each buyer stops at its sold_out
    assert result["pays"] == {"202": 60}
    assert 0 < result["claim_p50_ms"] <= result["claim_p95_ms"]
    assert 0 < result["pay_p50_ms"] <= result["pay_p95_ms"]
    assert result["orders_per_s"] == pytest.approx(60 / result["seconds"], rel=0.01)
    assert await oversold(resources, sale, result["paid"], units=60) == 0
    assert await oversold(resources, sale, 61, units=60) == 1  # a 202 too many is seen
    pools = keys.event_key(sale.event_id, "pools")
    await resources.redis.hincrby(pools, f"{sale.pool_ids[0]}:s", 2)
    assert await oversold(resources, sale, 60, units=60) == 2  # and so is Redis' own count
