"""OPTIONS lists every method a path serves (api/options_allow.py), also on paths whose
handlers Litestar merged from several registrations, where its own answer listed only the
first ones'."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/events/1", "DELETE, GET, OPTIONS, PATCH"),
        ("/events", "GET, OPTIONS, POST"),
        ("/seats/1", "DELETE, OPTIONS, PATCH"),
        ("/attractions/1", "DELETE, GET, OPTIONS, PATCH"),
    ],
)
async def test_options_lists_every_method_of_the_path(
    client: AsyncTestClient[Any], path: str, allow: str
) -> None:
    answer = await client.options(path)
    assert answer.status_code == 204
    assert answer.headers["allow"] == allow
