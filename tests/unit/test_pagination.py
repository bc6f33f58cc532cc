"""Cursors read back into their typed shapes: what the lists hand out, and nothing else."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.errors import InvalidCursor
from engine.pagination import AfterMoment, AfterOrder, encode_cursor, read_cursor

AT = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def test_the_keys_the_lists_hand_out_read_back() -> None:
    order = read_cursor(encode_cursor(AT.isoformat(), "42-5f1c9a0e7d3b2a14c6e8"), AfterOrder)
    assert order == AfterOrder(at=AT, order_id="42-5f1c9a0e7d3b2a14c6e8")
    moment = read_cursor(encode_cursor(AT.isoformat(), 7), AfterMoment)
    assert moment == AfterMoment(at=AT, id=7)
    shifted = AT.astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert read_cursor(encode_cursor(shifted, 7), AfterMoment) == AfterMoment(at=AT, id=7)
    assert read_cursor(None, AfterMoment) is None
    assert read_cursor("", AfterMoment) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "WzEuNSwiYSJd",  # [1.5,"a"]
        "WyIyMDMwLTAxLTAxIiwgImFiYyJd",  # ["2030-01-01", "abc"]
        encode_cursor("0001-01-01T00:00:00+05:00", 1),
        encode_cursor("9999-12-31T23:59:59-05:00", 1),
        encode_cursor("2030-01-01T00:00:00", 1),  # naive
        encode_cursor(AT.isoformat(), 2**63),
        encode_cursor(AT.isoformat(), -1),
        encode_cursor(AT.isoformat(), True),
        encode_cursor(AT.isoformat(), "7"),
        encode_cursor(AT.isoformat(), 7.0),
        encode_cursor(AT.isoformat(), 7, 8),
        encode_cursor(AT.isoformat()),
        encode_cursor({"at": AT.isoformat(), "id": 7}),
        base64.urlsafe_b64encode(b'["\xff", 1]').decode(),
        base64.urlsafe_b64encode(b"[" * 5000).decode(),
        "%%%",
        "not-a-cursor",
        "ẞ",
    ],
)
def test_anything_else_is_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        read_cursor(cursor, AfterMoment)
    with pytest.raises(InvalidCursor):
        read_cursor(cursor, AfterOrder)
