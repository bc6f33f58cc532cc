"""JSON as the Lua scripts write it (cjson), decoded into Structs; the order document's codec.

cjson cannot tell an empty array from an empty object and writes both as `{}`: an order
document whose order has no line, or a claim that took nothing, has `{}` where a list goes.
No object a script writes is empty, so when a reply does not decode, every `{}` in it is read
as an empty list and it is decoded again: this is the only place that knows.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from engine.order_document import OrderDocument

T = TypeVar("T")


class LuaJsonDecoder(Generic[T]):
    def __init__(self, type_: type[T]) -> None:
        self._type = type_
        self._decode = msgspec.json.Decoder(type_).decode

    def decode(self, raw: bytes | str) -> T:
        try:
            return self._decode(raw)
        except msgspec.ValidationError:
            return msgspec.convert(_empty_tables_as_lists(msgspec.json.decode(raw)), self._type)


def _empty_tables_as_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _empty_tables_as_lists(item) for key, item in value.items()} if value else []
    if isinstance(value, list):
        return [_empty_tables_as_lists(item) for item in value]
    return value


decode_document = LuaJsonDecoder(OrderDocument).decode
encode = msgspec.json.Encoder().encode  # documents and their parts, as Python writes them
