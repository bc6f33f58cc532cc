"""While the sale's Redis cannot be reached (a cluster master failing over, say), requests
that need it answer 503 `store_unavailable` with Retry-After, on the hot paths and on the
documented handlers alike, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from redis.exceptions import ClusterDownError
from redis.exceptions import ConnectionError as RedisConnectionError

from api.services import services_of
from engine.store.resources import Resources
from tests.conftest import Actor
from tests.sale_setup import open_sale, seat_item

FAILURES = [
    RedisConnectionError("Error 111 connecting to 127.0.0.1:7000. Connection refused."),
    ClusterDownError("CLUSTERDOWN The cluster is down"),
]


async def claim_while_unreachable(
    api: AsyncTestClient[Any],
    failure: Exception,
    resources: Resources,
    partner: Actor,
    customer: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(services_of(api.app).orders, "place", unreachable)
    response = await api.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == "store_unavailable"


@pytest.mark.parametrize("failure", FAILURES)
async def test_the_claim_hot_path_answers_503(
    client: AsyncTestClient[Any],
    failure: Exception,
    resources: Resources,
    partner: Actor,
    customer: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await claim_while_unreachable(client, failure, resources, partner, customer, monkeypatch)


@pytest.mark.parametrize("failure", FAILURES)
async def test_the_documented_claim_handler_answers_503(
    documented: AsyncTestClient[Any],
    failure: Exception,
    resources: Resources,
    partner: Actor,
    customer: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await claim_while_unreachable(documented, failure, resources, partner, customer, monkeypatch)
