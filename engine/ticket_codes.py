"""Ticket codes: signed with the event's Ed25519 key, so a scanner holding only the event's
public keys tells a genuine code from a forged one offline, and the server refuses a forged
code before any lookup.

A code is the decimal form of these bytes, read as one big-endian integer:

    version (1 byte, = 1) | key id (varint) | event id (varint) | ticket ref (8 bytes)
    | Ed25519 signature (64 bytes) over every byte before it

Varints are LEB128 (7 bits a byte, least significant group first, high bit = more follows).
Digits only, because QR numeric mode packs 3.3 bits a digit (the densest QR mode) and a code
then fits a URL path as it is: about 180 digits, a version-5 QR code at error correction M.
A code has exactly one spelling (no leading zero), so the same ticket never has two codes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = 1
REF_BYTES = 8
SIGNATURE_BYTES = 64
MAX_CODE_DIGITS = 220  # the longest version-1 code: 1 + 9 + 9 + 8 + 64 bytes is 220 digits
_MAX_VARINT = 2**63 - 1


class TicketCode(msgspec.Struct, frozen=True):
    """What a well-formed code says about itself; genuine only once its signature is checked."""

    key_id: int
    event_id: int
    ref: bytes
    signed: bytes  # the bytes the signature covers
    signature: bytes


def ticket_ref(order_id: str, line_no: int) -> bytes:
    """The ticket's reference inside its event: derived, so a replayed mint gives the same."""
    return hashlib.sha256(f"{order_id}:{line_no}".encode()).digest()[:REF_BYTES]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int] | None:
    value = shift = 0
    for index in range(at, min(at + 10, len(data))):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            # a final zero group would be a second spelling of a shorter varint
            if byte == 0 and index > at:
                return None
            return (value, index + 1) if value <= _MAX_VARINT else None
        shift += 7
    return None


def signed_part(key_id: int, event_id: int, ref: bytes) -> bytes:
    return bytes([VERSION]) + _varint(key_id) + _varint(event_id) + ref


def mint(private_key: Ed25519PrivateKey, key_id: int, event_id: int, ref: bytes) -> str:
    signed = signed_part(key_id, event_id, ref)
    return str(int.from_bytes(signed + private_key.sign(signed), "big"))


def parse(code: str) -> TicketCode | None:
    """The parts of a well-formed code, or None; no signature check, no I/O."""
    if not (0 < len(code) <= MAX_CODE_DIGITS and code.isascii() and code.isdigit()):
        return None
    if code[0] == "0":
        return None
    number = int(code)
    data = number.to_bytes((number.bit_length() + 7) // 8, "big")
    if data[0] != VERSION:
        return None
    key = _read_varint(data, 1)
    event = _read_varint(data, key[1]) if key else None
    if key is None or event is None or key[0] < 1 or event[0] < 1:
        return None
    ref_end = event[1] + REF_BYTES
    if len(data) != ref_end + SIGNATURE_BYTES:
        return None
    return TicketCode(key[0], event[0], data[event[1] : ref_end], data[:ref_end], data[ref_end:])


def signature_ok(code: TicketCode, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(code.signature, code.signed)
    except InvalidSignature:
        return False
    return True


def signed_by(code: TicketCode, private_key: Ed25519PrivateKey) -> bool:
    """The server's check: Ed25519 signing is deterministic (RFC 8032), so a genuine code
    carries exactly the signature our key makes again, and signing costs about a third of
    verifying. Stricter than `signature_ok`: only our own signer's signature passes."""
    return hmac.compare_digest(private_key.sign(code.signed), code.signature)


def verify_offline(code: str, public_keys: Mapping[int, Mapping[int, bytes]]) -> TicketCode | None:
    """What a scanner does with only `GET /events/{id}/gate-keys`: `public_keys` maps event id
    to {key id: raw 32-byte Ed25519 public key}. The code's parts, or None if not genuine."""
    parsed = parse(code)
    if parsed is None:
        return None
    raw = public_keys.get(parsed.event_id, {}).get(parsed.key_id)
    if raw is None or len(raw) != 32:
        return None
    return parsed if signature_ok(parsed, Ed25519PublicKey.from_public_bytes(raw)) else None
