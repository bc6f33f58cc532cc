"""Reading a submitted HTML form: its text fields, trimmed, as a plain dict."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request

from api.bodies import invalid_field
from engine.errors import InvalidInput

T = TypeVar("T")


async def form_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Each field's first value (files and the CSRF field left out)."""
    form = await request.form()
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, str) and name not in fields and name != "csrf_token":
            fields[name] = value.strip()
    return fields


def convert(fields: dict[str, Any], shape: type[T]) -> T:
    """`fields` as `shape` with the JSON API's own field rules; InvalidInput naming the
    field otherwise (as the API's 422)."""
    try:
        return msgspec.convert(fields, shape, strict=False)
    except msgspec.ValidationError as exc:
        raise invalid_field(str(exc)) from exc


def field_errors(error: InvalidInput) -> dict[str, str]:
    """field -> message of an InvalidInput, for showing each message beside its field."""
    named = {
        str(item.get("field")): str(item.get("message"))
        for item in error.extra.get("errors", [])
        if isinstance(item, dict) and item.get("field")
    }
    field = error.extra.get("field")
    if isinstance(field, str) and field not in named:
        named[field] = error.detail
    return named


_LOCAL_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")
_MONEY = re.compile(r"^\d{1,9}(?:[.,]\d{1,2})?$")


def as_utc(fields: dict[str, Any], *names: str) -> None:
    """Give the `<input type="datetime-local">` values among `names` the UTC offset the
    pages show them in ('2026-12-04T21:30' -> '2026-12-04T21:30:00+00:00')."""
    for name in names:
        value = fields.get(name)
        if isinstance(value, str) and _LOCAL_MOMENT.match(value):
            fields[name] = (value if value.count(":") == 2 else f"{value}:00") + "+00:00"


def as_cents(fields: dict[str, Any], name: str, target: str) -> None:
    """A price typed as '45', '45.5' or '45,50' becomes `target` in minor units (4550)."""
    value = fields.pop(name, None)
    if value is None or value == "":
        return
    if not isinstance(value, str) or not _MONEY.match(value):
        raise InvalidInput("Type a price like 45 or 45.50", field=name)
    whole, _, part = value.replace(",", ".").partition(".")
    fields[target] = int(whole) * 100 + int((part + "00")[:2])


def filled(fields: dict[str, str]) -> dict[str, Any]:
    """The fields that were filled in: an empty box means 'not given', not ''."""
    return {name: value for name, value in fields.items() if value != ""}
