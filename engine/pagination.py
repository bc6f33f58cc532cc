"""Opaque keyset cursors: `?limit=&cursor=` lists return `{items, next_cursor}`.

A cursor is the last row's sort key as a base64 JSON array. Reading one back decodes it into
the typed shape its list expects (an `array_like` Struct: exact length, strict types, aware
moments within `engine.moments`' range); anything else is `InvalidCursor`, before any store
sees it.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import msgspec

from engine.errors import InvalidCursor
from engine.moments import in_range

T = TypeVar("T")
K = TypeVar("K", bound=msgspec.Struct)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_ID = 2**63 - 1

CursorId = Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)]
CursorMoment = Annotated[datetime, msgspec.Meta(tz=True)]


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class CursorKey(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """The base of cursor shapes: decoded from a JSON array of exactly its fields."""


class AfterMoment(CursorKey):
    """`[moment, id]`: lists ordered by a time, then a numeric id."""

    at: CursorMoment
    id: CursorId


class AfterOrder(CursorKey):
    """`[created_at, order_id]`: order lists, newest first."""

    at: CursorMoment
    order_id: Annotated[str, msgspec.Meta(pattern=r"^[1-9][0-9]{0,18}-[0-9a-f]{20}$")]


def encode_cursor(*sort_key: Any) -> str:
    raw = json.dumps(list(sort_key), default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_bytes(cursor: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor() from exc


def read_cursor(cursor: str | None, shape: type[K]) -> K | None:
    """The sort key a cursor carries as `shape`, or None for the first page."""
    if not cursor:
        return None
    try:
        key = msgspec.json.decode(_cursor_bytes(cursor), type=shape)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidCursor() from exc
    for value in msgspec.structs.astuple(key):
        if isinstance(value, datetime) and not in_range(value):
            raise InvalidCursor()
    return key


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The sort key a cursor carries as a list of `arity` JSON values, or None for the first
    page; the caller checks each value's type (InvalidCursor if it was tampered with)."""
    if not cursor:
        return None
    try:
        key = json.loads(_cursor_bytes(cursor))
    except (ValueError, RecursionError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(key, list) or len(key) != arity:
        raise InvalidCursor()
    return key


def page_of(rows: list[T], limit: int, key_of: Any) -> Page[T]:
    """Build a page from `limit + 1` fetched rows: the extra row only proves there is more."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(items=rows, next_cursor=encode_cursor(*key_of(rows[-1])))
    return Page(items=rows)
