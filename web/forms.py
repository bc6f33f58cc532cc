"""Reading a submitted HTML form: its text fields, trimmed, as a plain dict."""

from __future__ import annotations

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
