"""Ticket codes: short, signed, so a forged code is refused before any lookup.

`<event id>.<ticket ref>.<signature>`: the ticket ref is derived from the order and line, the
signature is a truncated HMAC-SHA256 over both under the ticket signing key. About 35
characters: a small QR code (version 3, error correction M).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_CHARS = 16


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def ticket_ref(order_id: str, line_no: int) -> str:
    return _b32(hashlib.sha256(f"{order_id}:{line_no}".encode()).digest())[:12]


def _signature(payload: str, key: bytes) -> str:
    return _b32(hmac.new(key, payload.encode(), hashlib.sha256).digest())[:SIGNATURE_CHARS]


def mint(event_id: int, order_id: str, line_no: int, key: bytes) -> str:
    payload = f"{event_id}.{ticket_ref(order_id, line_no)}"
    return f"{payload}.{_signature(payload, key)}"


def verify(code: str, key: bytes) -> int | None:
    """The event id a genuine code belongs to, or None for a forged or malformed one."""
    payload, _, signature = code.rpartition(".")
    event, _, ref = payload.partition(".")
    if not (event.isdigit() and len(ref) == 12 and len(signature) == SIGNATURE_CHARS):
        return None
    if not hmac.compare_digest(signature, _signature(payload, key)):
        return None
    return int(event)
