"""The one JSON body decoding: media types, strict types, and the 4xx each failure becomes."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from api.bodies import decode_body, is_json_media_type
from engine.errors import InvalidInput, MalformedBody


class Item(msgspec.Struct, forbid_unknown_fields=True):
    quantity: Annotated[int, msgspec.Meta(ge=1)]
    gift: bool = False


class Body(msgspec.Struct):
    items: list[Item]
    note: str = ""


@pytest.mark.parametrize(
    "content_type",
    [
        b"application/json",
        b"application/json; charset=utf-8",
        b'Application/JSON;Charset="UTF-8"',
        b"application/problem+json",
        b"application/merge-patch+json; charset=utf8",
    ],
)
def test_json_media_types(content_type: bytes) -> None:
    assert is_json_media_type(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        b"",
        b"text/plain",
        b"text/json",
        b"application/jsonp",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"application/xml",
        b"application/json; charset=latin-1",
        b"+json",
        b"\xff/\xff+json; charset=\xff",
    ],
)
def test_other_media_types(content_type: bytes | None) -> None:
    assert not is_json_media_type(content_type)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"items": [{"quantity": "2"}]}', "items.0.quantity"),
        (b'{"items": [{"quantity": 2.0}]}', "items.0.quantity"),
        (b'{"items": [{"quantity": 2, "gift": 1}]}', "items.0.gift"),
        (b'{"items": [{"quantity": 2, "gift": "true"}]}', "items.0.gift"),
        (b'{"items": [{"quantity": 0}]}', "items.0.quantity"),
        (b'{"items": [{"quantity": 1, "colour": "red"}]}', "items.0.colour"),
        (b'{"note": "x"}', "items"),
    ],
)
def test_wrong_types_are_invalid_input_naming_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_body(raw, Body)
    assert not isinstance(refused.value, MalformedBody)
    assert refused.value.extra["errors"][0]["field"] == field
    assert refused.value.detail.startswith(f"{field}: ")


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"items": [{"quantity": 1}], "note": "\xff"}',
        b'{"items": [], "ignored": "\xff"}',
        b'{"items": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"note": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"items": [{"colour": "red"}',  # wrong field first, truncated after
    ],
)
def test_bytes_that_are_not_json_are_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedBody):
        decode_body(raw, Body)


def test_a_good_body_decodes() -> None:
    assert decode_body(b'{"items": [{"quantity": 2}]}', Body) == Body([Item(2)])
