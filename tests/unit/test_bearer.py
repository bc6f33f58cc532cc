"""The one Bearer rule (api/auth.py), for the documented handlers and the hot paths."""

from __future__ import annotations

import pytest

from api.auth import bearer_token
from engine.errors import AuthenticationRequired


@pytest.mark.parametrize(
    "header",
    ["Bearer tok.en", "bearer tok.en", "BEARER tok.en", "bEaReR tok.en", "Bearer  tok.en "],
)
def test_the_scheme_is_case_insensitive(header: str) -> None:
    assert bearer_token(header) == "tok.en"


@pytest.mark.parametrize("header", [None, ""])
def test_no_header_is_no_token(header: str | None) -> None:
    assert bearer_token(header) is None


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Bearer   ",
        "Bearertok.en",
        "Bearer\ttok.en",
        "tok.en",
    ],
)
def test_anything_else_is_refused(header: str) -> None:
    with pytest.raises(AuthenticationRequired):
        bearer_token(header)
