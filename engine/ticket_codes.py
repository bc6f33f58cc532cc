"""Ticket codes: signed with the event's Ed25519 key, so a scanner holding only the event's
public keys tells a genuine code from a forged one offline, and the server refuses a forged
code before any lookup.

A code is the decimal form of these bytes, read as one big-endian integer:

    version (1 byte, = 2) | key id (varint) | event id (varint) | ticket ref (8 bytes)
    | server tag (6 bytes) | Ed25519 signature (64 bytes) over every byte before it

The server tag is a keyed BLAKE2b of the bytes before it, under a key derived from the
event's private key: the server checks it in about a microsecond, where an Ed25519 check
costs 40 (signing again) to 120 (verifying), a quarter of a gate scan's CPU. Forging a tag
takes about 2**47 guesses, each one a request to the gate. The signature covers the tag, so
offline every changed digit is still refused; a genuine code with only its signature
changed passes the tag but not the lookup, which matches the whole code. Version-1 codes
(no tag: version 1 | key id | event id | ref | signature) stay valid and are checked by
signature.

Varints are LEB128 (7 bits a byte, least significant group first, high bit = more follows).
Digits only, because QR numeric mode packs 3.3 bits a digit (the densest QR mode) and a code
then fits a URL path as it is: about 200 digits, a version-5 QR code at error correction M.
A code has exactly one spelling (no leading zero), so the same ticket never has two codes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = 2
LEGACY_VERSION = 1  # before the server tag
REF_BYTES = 8
TAG_BYTES = 6
SIGNATURE_BYTES = 64
# the longest code: 1 + 9 + 9 + 8 + 6 + 64 bytes, all ones, is 234 digits
MAX_CODE_DIGITS = len(str(2 ** (8 * (1 + 9 + 9 + REF_BYTES + TAG_BYTES + SIGNATURE_BYTES)) - 1))
_MAX_VARINT = 2**63 - 1


class TicketCode(msgspec.Struct, frozen=True):
    """What a well-formed code says about itself; genuine only once its tag or signature is
    checked."""

    key_id: int
    event_id: int
    ref: bytes
    signed: bytes  # the bytes the signature covers
    signature: bytes
    version: int = VERSION  # a version-2 code's signed bytes end with its server tag


def ticket_ref(order_id: str, line_no: int) -> bytes:
    """The ticket's reference inside its event: derived, so a replayed mint gives the same."""
    return hashlib.sha256(f"{order_id}:{line_no}".encode()).digest()[:REF_BYTES]


def code_digest(code: str) -> str:
    """A short fingerprint of the whole code (hex), kept beside a live ticket in Redis: a
    genuine code with only its signature changed has our ref and tag but not this."""
    return hashlib.blake2b(code.encode(), digest_size=8).hexdigest()


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


def tag_key(private_key: Ed25519PrivateKey) -> bytes:
    """The server tag's key, derived from (and rotating with) the event's signing key."""
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return hashlib.blake2b(raw, digest_size=32, person=b"boxoffice-tag").digest()


def _tag(key: bytes, tagged: bytes) -> bytes:
    return hashlib.blake2b(tagged, key=key, digest_size=TAG_BYTES).digest()


def signed_part(key_id: int, event_id: int, ref: bytes, key: bytes) -> bytes:
    tagged = bytes([VERSION]) + _varint(key_id) + _varint(event_id) + ref
    return tagged + _tag(key, tagged)


def mint(
    private_key: Ed25519PrivateKey, key_id: int, event_id: int, ref: bytes, key: bytes = b""
) -> str:
    """The code; `key` is `tag_key(private_key)`, passed in by callers that mint many."""
    signed = signed_part(key_id, event_id, ref, key or tag_key(private_key))
    return str(int.from_bytes(signed + private_key.sign(signed), "big"))


def parse(code: str) -> TicketCode | None:
    """The parts of a well-formed code, or None; no signature check, no I/O."""
    if not (0 < len(code) <= MAX_CODE_DIGITS and code.isascii() and code.isdigit()):
        return None
    if code[0] == "0":
        return None
    number = int(code)
    data = number.to_bytes((number.bit_length() + 7) // 8, "big")
    version = data[0]
    if version not in (VERSION, LEGACY_VERSION):
        return None
    key = _read_varint(data, 1)
    event = _read_varint(data, key[1]) if key else None
    if key is None or event is None or key[0] < 1 or event[0] < 1:
        return None
    ref_end = event[1] + REF_BYTES
    signed_end = ref_end + (TAG_BYTES if version == VERSION else 0)
    if len(data) != signed_end + SIGNATURE_BYTES:
        return None
    return TicketCode(
        key[0],
        event[0],
        data[event[1] : ref_end],
        data[:signed_end],
        data[signed_end:],
        version,
    )


def tagged_by(code: TicketCode, key: bytes) -> bool:
    """The server's check of a version-2 code: its tag is ours (see the module docstring)."""
    if code.version != VERSION:
        return False
    tagged, tag = code.signed[:-TAG_BYTES], code.signed[-TAG_BYTES:]
    return hmac.compare_digest(_tag(key, tagged), tag)


def signature_ok(code: TicketCode, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(code.signature, code.signed)
    except InvalidSignature:
        return False
    return True


def signed_by(code: TicketCode, private_key: Ed25519PrivateKey) -> bool:
    """The server's check of a version-1 code: Ed25519 signing is deterministic (RFC 8032),
    so a genuine code carries exactly the signature our key makes again, and signing costs
    about a third of verifying. Stricter than `signature_ok`: only our own signer's
    signature passes."""
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
