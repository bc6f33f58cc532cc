"""`make demo`'s data, made through the public API on a real server: accounts that log in, an
event on sale with seats, standing units and its waiting room; run twice, nothing twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ops.demo import CUSTOMERS, EVENT_NAME, PARTNER, STAFF, Api, seed, summary
from tests import services as test_services
from tests.api_server import running_api


@pytest.fixture(scope="module")
def api(services: test_services.TestServices) -> Iterator[str]:
    with running_api() as base:
        yield base


def test_the_demo_is_seeded_once_and_on_sale(api: str) -> None:
    event_id = seed(api)
    assert seed(api) == event_id
    partner = Api(api).as_user(PARTNER)
    own = partner.must("GET", "/partner/events?limit=200")["items"]
    assert [e["id"] for e in own if e["name"] == EVENT_NAME] == [event_id]
    event = Api(api).must("GET", f"/events/{event_id}")
    assert event["status"] == "published"
    assert event["sale"]["waiting_room"]["enabled"] is True
    assert event["availability"]["available"] == 50 + 200
    customer = Api(api).as_user(CUSTOMERS[0])
    joined = customer.must("POST", f"/events/{event_id}/queue")
    assert joined["state"] in ("waiting", "admitted")
    assert Api(api).as_user(STAFF).must("GET", "/me")["role"] == "staff"
    printed = summary(api, event_id)
    assert f"{api}/events/{event_id}/waiting-room" in printed
    assert f"{api}/schema/swagger" in printed
