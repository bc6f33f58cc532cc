"""The sale's figures move in /metrics and in the worker's metrics during a short sale.

A customer claims a seat (another's claim of it is refused), pays, the worker's
`persist_order` completes the order, and the partner scans its ticket twice. /metrics must
count each outcome by result and show the event's units; the worker's registry its job,
its batch and the order's persistence lag. The access log carries the request id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from arq.connections import RedisSettings, create_pool
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from engine.settings import get_settings
from engine.store.resources import Resources
from ops.logs import JsonFormatter
from tests.conftest import Actor, make_actor
from tests.sale_setup import open_sale, seat_item


@contextmanager
def access_lines() -> Iterator[list[str]]:
    """The access log's lines as written (JSON, formatted while the request runs)."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("boxoffice.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def scraped(text: str, name: str, **labels: str) -> float:
    """A sample's value in /metrics' text, 0 when absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and _labels_of(line) == wanted:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _labels_of(line: str) -> str:
    inside = line[line.index("{") + 1 : line.index("}")]
    return ",".join(sorted(inside.split(",")))


async def metrics(client: AsyncTestClient[Any]) -> str:
    answer = await client.get("/metrics")
    assert answer.status_code == 200, answer.text
    return answer.text


async def test_business_series_move_during_a_short_sale(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
) -> None:
    from workers.settings import shutdown, startup
    from workers.tasks import persist_order

    sale = await open_sale(resources, partner.id, seats=3)
    rival = await make_actor(client, "customer")
    before = await metrics(client)
    lag_before = sample("boxoffice_persistence_lag_seconds_count")
    batches_before = sample("boxoffice_persist_batch_orders_count")
    jobs_before = sample(
        "boxoffice_worker_jobs_total", function="persist_order", result="persisted"
    )

    body = {"items": [seat_item(sale, sale.seat_ids[0])]}
    claimed = await client.post("/orders", json=body, headers=customer.headers)
    assert claimed.status_code == 201, claimed.text
    refused = await client.post("/orders", json=body, headers=rival.headers)
    assert refused.status_code == 409, refused.text
    order_id = claimed.json()["id"]
    with access_lines() as lines:
        paid = await client.post(
            f"/orders/{order_id}/pay",
            json={"payment_token": "tok_visa"},
            headers={**customer.headers, "X-Request-ID": "sale-pay-1"},
        )
    assert paid.status_code == 202, paid.text
    (line,) = [json.loads(text) for text in lines if "/pay" in text]
    assert line["request_id"] == "sale-pay-1"
    assert (line["method"], line["path"], line["status"]) == (
        "POST",
        f"/orders/{order_id}/pay",
        202,
    )

    arq = await create_pool(RedisSettings.from_dsn(get_settings().job_queue_redis_url))
    ctx: dict[str, Any] = {"redis": arq, "job_try": 1}
    try:
        await startup(ctx)
        assert await persist_order(ctx, order_id) == "persisted"
    finally:
        await shutdown(ctx)
        await arq.aclose()

    tickets = await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    code = tickets.json()["items"][0]["code"]
    for expected in (200, 409):
        scan = await client.post("/tickets/validate", json={"code": code}, headers=partner.headers)
        assert scan.status_code == expected, scan.text

    after = await metrics(client)

    def moved(name: str, **labels: str) -> float:
        return scraped(after, name, **labels) - scraped(before, name, **labels)

    assert moved("boxoffice_outcomes_total", action="claim", result="reserved") == 1
    assert moved("boxoffice_outcomes_total", action="claim", result="seat_unavailable") == 1
    assert moved("boxoffice_outcomes_total", action="pay", result="paid") == 1
    assert moved("boxoffice_outcomes_total", action="scan", result="admitted") == 1
    assert moved("boxoffice_outcomes_total", action="scan", result="already_used") == 1
    event = str(sale.event_id)
    assert scraped(after, "boxoffice_event_units", event_id=event, state="sold") == 1
    assert scraped(after, "boxoffice_event_units", event_id=event, state="available") == 2
    assert scraped(after, "boxoffice_outbox_orders", event_id=event) == 0
    assert scraped(after, "boxoffice_waiting_room_customers", event_id=event, state="waiting") == 0

    # at least ours: the worker's sync loop may complete other tests' paid orders meanwhile
    assert sample("boxoffice_persistence_lag_seconds_count") >= lag_before + 1
    assert sample("boxoffice_persist_batch_orders_count") >= batches_before + 1
    assert (
        sample("boxoffice_worker_jobs_total", function="persist_order", result="persisted")
        == jobs_before + 1
    )


async def test_the_outbox_shows_a_paid_order_until_it_is_written(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    body = {"items": [seat_item(sale, sale.seat_ids[0])]}
    claimed = await client.post("/orders", json=body, headers=customer.headers)
    order_id = claimed.json()["id"]
    paid = await client.post(
        f"/orders/{order_id}/pay", json={"payment_token": "tok_visa"}, headers=customer.headers
    )
    assert paid.status_code == 202, paid.text
    shown = await metrics(client)
    event = str(sale.event_id)
    assert scraped(shown, "boxoffice_outbox_orders", event_id=event) == 1
    assert scraped(shown, "boxoffice_outbox_oldest_seconds", event_id=event) >= 0
    assert f'boxoffice_outbox_oldest_seconds{{event_id="{event}"}}' in shown
