"""Template filters: money, times and counts as people read them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any


def money(cents: int | None, currency: str = "") -> str:
    """1234567 -> '12,345.67' (minor units, two decimals)."""
    if cents is None:
        return "–"
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    amount = f"{sign}{whole:,}.{part:02d}"
    return f"{amount} {currency}".strip()


def when(moment: datetime | None) -> str:
    """A timestamp in its own offset, to the minute: '2026-12-04 21:30 UTC+00:00'."""
    if moment is None:
        return "–"
    offset = moment.strftime("%z")
    zone = "UTC" if offset in ("+0000", "") else f"UTC{offset[:3]}:{offset[3:]}"
    return f"{moment:%Y-%m-%d %H:%M} {zone}"


def count(value: int | None) -> str:
    return "–" if value is None else f"{int(value):,}"


FILTERS: dict[str, Callable[..., Any]] = {
    "money": money,
    "when": when,
    "count": count,
}
