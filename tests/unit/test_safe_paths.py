"""Only paths on this site are followed after signing in (no open redirect)."""

from __future__ import annotations

import pytest

from web.safe_paths import landing, local_path


@pytest.mark.parametrize(
    "path", ["/panel/", "/panel/events/3?tab=sale", "/", "/gate/#scan", "/a%2F%2Fb"]
)
def test_local_paths_are_kept(path: str) -> None:
    assert local_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        None,
        "",
        "panel",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/pa\nnel",
        "/" + "x" * 2000,
    ],
)
def test_other_targets_are_refused(path: str | None) -> None:
    assert local_path(path) is None


def test_landing_falls_back_to_the_roles_home() -> None:
    assert landing("partner", "//evil") == "/panel/"
    assert landing("staff", None) == "/gate/"
    assert landing("customer", "/events/4") == "/events/4"
