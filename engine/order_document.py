"""The order document: an order as Redis keeps it, in its home event's `orders` hash.

lua/claim.lua creates it; lua/add_lines.lua adds the lines of the order's other events; the
status changes (lua/_lib.lua `set_status`: confirm, release, expire, complete) append to its
history, confirm adds `payment_ref` and `paid_at`, lua/dead_letter.lua adds `dead_letter`;
lua/restore_document.lua puts back one built from PostgreSQL (engine.orders.document_of).
Ids are strings, as the Lua scripts write them (Lua prints large numbers in exponent form),
and times are milliseconds since the epoch.

These Structs are the one definition of its fields: the stores decode a document once, where
they read it from Redis (engine/store/lua_json.py), and tests/integration/
test_order_document.py runs every script that writes one and checks that what it wrote
decodes into them and encodes back unchanged.
"""

from __future__ import annotations

from typing import Literal

import msgspec

OrderStatus = Literal["reserved", "paid", "completed", "expired", "payment_failed", "cancelled"]


class DocumentLine(msgspec.Struct):
    """One ticket of the order: a seat, or one unit of a general-admission ticket type."""

    event_id: str
    seat_id: str | None
    ticket_type_id: str | None
    label: str
    price_cents: int


class DocumentStatusChange(msgspec.Struct):
    status: OrderStatus
    at: int
    reason: str | None


class DocumentDeadLetter(msgspec.Struct):
    """PostgreSQL refused to record the order for good (engine/persistence.py)."""

    reason: str
    at: int


class OrderDocument(msgspec.Struct, omit_defaults=True):
    id: str
    customer_id: str
    status: OrderStatus
    items: list[DocumentLine]
    total_cents: int
    expires_at: int
    created_at: int
    events: list[str]  # its home event first
    history: list[DocumentStatusChange]
    payment_ref: str | None = None  # from its payment on
    paid_at: int | None = None
    dead_letter: DocumentDeadLetter | None = None

    def was_paid(self) -> bool:
        return any(change.status == "paid" for change in self.history)
