"""Opaque keyset cursors: `?limit=&cursor=` lists return `{items, next_cursor}`."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

import msgspec

from engine.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*sort_key: Any) -> str:
    raw = json.dumps(list(sort_key), default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The sort key a cursor carries, or None for the first page; InvalidInput if tampered."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("cursor is not valid", field="cursor") from exc
    if not isinstance(key, list) or len(key) != arity:
        raise InvalidInput("cursor is not valid", field="cursor")
    return key


def page_of(rows: list[T], limit: int, key_of: Any) -> Page[T]:
    """Build a page from `limit + 1` fetched rows: the extra row only proves there is more."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(items=rows, next_cursor=encode_cursor(*key_of(rows[-1])))
    return Page(items=rows)
