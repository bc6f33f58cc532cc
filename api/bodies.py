"""Request bodies: declared JSON, decoded strictly into the handler's schema, refused as 4xx.

One decoding for every JSON body, used by the documented handlers (through `BodyRequest`,
the app's request class) and by the hot paths' parsers alike:

- the Content-Type must be `application/json` or a `+json` type (any parameters, but a
  charset other than UTF-8 is refused): anything else, a missing one included, is 415
  `unsupported_media_type`, since a body is only JSON because its sender says so;
- the body is decoded by msgspec straight into the handler's `data` Struct with strict types,
  so `"2"` or `2.0` for an integer is 422 `validation_error` naming the field (Litestar's own
  conversion is lax: it would take both as 2);
- bytes that are not JSON, not UTF-8 or nested too deeply are 400 `malformed_json`.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.handlers import BaseRouteHandler
from litestar.types import Empty

from engine.errors import InvalidInput, MalformedBody, UnsupportedMediaType

T = TypeVar("T")

JSON_MEDIA_TYPE = b"application/json"  # what every client sends: checked first, for free
_UTF8 = ("utf-8", "utf8")
_NAMED_FIELD = re.compile(r"(?:missing required|unknown) field `([^`]*)`")


def is_json_media_type(content_type: bytes | None) -> bool:
    """`application/json` or `*/*+json`, optionally with a UTF-8 charset."""
    if content_type == JSON_MEDIA_TYPE:
        return True
    if not content_type:
        return False
    media_type, *parameters = content_type.decode("latin-1").lower().split(";")
    kind, _, subtype = media_type.strip().partition("/")
    json_like = (kind, subtype) == ("application", "json") or subtype.endswith("+json")
    if not kind or not json_like:
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in _UTF8:
            return False
    return True


def check_media_type(content_type: bytes | None) -> None:
    if not is_json_media_type(content_type):
        declared = content_type.decode("latin-1") if content_type else "none"
        raise UnsupportedMediaType(
            f"Send the body as application/json (UTF-8); Content-Type was {declared[:100]!r}"
        )


_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder(shape: Any) -> msgspec.json.Decoder[Any]:
    decoder = _DECODERS.get(shape)
    if decoder is None:
        decoder = _DECODERS[shape] = msgspec.json.Decoder(shape, strict=True)
    return decoder


def decode_body(body: bytes, shape: type[T]) -> T:
    """`body` as `shape`, strictly; MalformedBody or InvalidInput otherwise."""
    try:
        body.decode()  # msgspec checks UTF-8 only in the strings it keeps
        value: T = _decoder(shape).decode(body)
    except msgspec.ValidationError as exc:
        well_formed(body)  # typed decoding stops at the first wrong field: malformed JSON
        raise invalid_field(str(exc)) from exc  # after it must still be malformed_json
    except msgspec.DecodeError as exc:
        raise MalformedBody(f"The body is not valid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise MalformedBody("The body is not valid UTF-8") from exc
    except RecursionError as exc:
        raise MalformedBody("The body is nested too deeply") from exc
    return value


def well_formed(body: bytes) -> None:
    """MalformedBody unless `body` is JSON, whatever its shape."""
    try:
        msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedBody(f"The body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise MalformedBody("The body is nested too deeply") from exc


def invalid_field(message: str) -> InvalidInput:
    """msgspec's `Expected `int`, got `str` - at `$.items[0].quantity`` as the 422 the
    documented handlers give: the field named as `items.0.quantity`."""
    reason, _, where = message.partition(" - at `")
    field = where.rstrip("`").removeprefix("$").replace("[", ".").replace("]", "").lstrip(".")
    named = _NAMED_FIELD.search(reason)  # a missing or unknown field names itself
    if named:
        field = f"{field}.{named.group(1)}" if field else named.group(1)
    detail = f"{field}: {reason}" if field else reason
    error = {"field": field or None, "message": reason, "source": "body"}
    return InvalidInput(detail, errors=[error])


def data_shape(handler: BaseRouteHandler) -> Any:
    """The type of the handler's `data` parameter, or Any when it takes none."""
    field = handler.parsed_fn_signature.parameters.get("data")
    return Any if field is None else field.annotation


class BodyRequest(Request[Any, Any, Any]):
    """The app's request class: `json()` is where Litestar reads a JSON body for `data`."""

    async def json(self) -> Any:
        state = self._connection_state
        if state.json is Empty:
            check_media_type(self.headers.get("content-type", "").encode("latin-1") or None)
            body = await self.body()
            state.json = decode_body(body or b"null", data_shape(self.route_handler))
        return state.json
