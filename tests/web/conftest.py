"""A browser-like client of the pages: its own cookie jar, and helpers to read a page's
CSRF token and sign in through the forms."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_actor
from tests.services import TestServices

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse"


@pytest.fixture
async def browser_client(services: TestServices) -> AsyncIterator[AsyncTestClient[Any]]:
    """A client of its own (cookies are per browser), not following redirects."""
    from api.app import create_app

    async with AsyncTestClient(app=create_app()) as client:
        client.follow_redirects = False
        yield client


def csrf_of(html: str) -> str:
    found = _CSRF_FIELD.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def sign_in(client: AsyncTestClient[Any], email: str, next_path: str = "") -> Any:
    page = await client.get("/sign-in")
    assert page.status_code == 200, page.text
    fields = {"csrf_token": csrf_of(page.text), "email": email, "password": PASSWORD}
    if next_path:
        fields["next"] = next_path
    return await client.post("/sign-in", data=fields)


async def signed_in_as(client: AsyncTestClient[Any], role: str) -> dict[str, Any]:
    """Register a `role` user through the API and sign the client in as them."""
    actor = await make_actor(client, role)
    response = await sign_in(client, actor.user["email"])
    assert response.status_code == 303, response.text
    return actor.user
