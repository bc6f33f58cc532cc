"""Ticket codes, gate keys and QR images without servers: genuine codes verify with only the
public key; forged, mutated and re-spelled codes never do."""

from __future__ import annotations

import io
import itertools

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from engine import ticket_codes
from engine.gate_keys import GateKey, GateKeys, KeyVault, SealedKeyError
from engine.ticket_codes import (
    MAX_CODE_DIGITS,
    TicketCode,
    mint,
    parse,
    signed_by,
    tag_key,
    tagged_by,
    ticket_ref,
    verify_offline,
)
from engine.ticket_mail import MAX_ATTEMPTS, retry_after
from engine.ticket_qr import QUIET_ZONE, qr_modules, render_qr

PRIVATE = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
EVENT, KEY_ID = 4242, 1


def raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


KEYS = {EVENT: {KEY_ID: raw_public(PRIVATE)}}
CODE = mint(PRIVATE, KEY_ID, EVENT, ticket_ref("4242-00112233445566778899", 0))


def test_genuine_code_verifies_with_only_the_public_key() -> None:
    parsed = verify_offline(CODE, KEYS)
    assert parsed is not None
    assert (parsed.event_id, parsed.key_id) == (EVENT, KEY_ID)
    assert parsed.ref == ticket_ref("4242-00112233445566778899", 0)


def test_code_is_short_digits_and_deterministic() -> None:
    assert CODE.isdigit() and not CODE.startswith("0")
    assert 190 <= len(CODE) <= 202  # QR version 5 at error correction M holds 202 digits
    assert mint(PRIVATE, KEY_ID, EVENT, ticket_ref("4242-00112233445566778899", 0)) == CODE
    assert mint(PRIVATE, KEY_ID, EVENT, ticket_ref("4242-00112233445566778899", 1)) != CODE


def test_largest_ids_still_fit() -> None:
    code = mint(PRIVATE, 2**63 - 1, 2**63 - 1, b"\xff" * 8)
    assert len(code) <= MAX_CODE_DIGITS
    assert verify_offline(code, {2**63 - 1: {2**63 - 1: raw_public(PRIVATE)}}) is not None


def test_code_signed_by_another_key_is_refused() -> None:
    forged = mint(OTHER, KEY_ID, EVENT, ticket_ref("4242-00112233445566778899", 0))
    assert parse(forged) is not None  # well formed ...
    assert verify_offline(forged, KEYS) is None  # ... but not genuine


def test_code_for_another_event_is_refused_even_with_a_genuine_key() -> None:
    # event 7's key signing a code that claims event 4242
    other_event_keys = {7: {KEY_ID: raw_public(OTHER)}, EVENT: {KEY_ID: raw_public(PRIVATE)}}
    claims_4242 = mint(OTHER, KEY_ID, EVENT, b"\x00" * 8)
    assert verify_offline(claims_4242, other_event_keys) is None


def test_unknown_key_id_is_refused() -> None:
    assert verify_offline(mint(PRIVATE, 2, EVENT, b"\x01" * 8), KEYS) is None


def test_another_spelling_of_the_same_number_is_refused() -> None:
    assert verify_offline("0" + CODE, KEYS) is None
    assert verify_offline(" " + CODE, KEYS) is None
    assert verify_offline(CODE + "\n", KEYS) is None
    assert verify_offline("".join(chr(ord(c) - ord("0") + 0x0660) for c in CODE), KEYS) is None


@settings(max_examples=300)
@given(position=st.integers(min_value=0), digit=st.sampled_from("0123456789"))
def test_every_changed_digit_is_refused(position: int, digit: str) -> None:
    position %= len(CODE)
    mutated = CODE[:position] + digit + CODE[position + 1 :]
    if mutated != CODE:
        assert verify_offline(mutated, KEYS) is None


@settings(max_examples=300)
@given(
    cut=st.integers(min_value=0),
    inserted=st.text(alphabet="0123456789", max_size=3),
    removed=st.integers(min_value=0, max_value=3),
)
def test_insertions_and_deletions_are_refused(cut: int, inserted: str, removed: int) -> None:
    cut %= len(CODE) + 1
    mutated = CODE[:cut] + inserted + CODE[cut + removed :]
    if mutated != CODE:
        assert verify_offline(mutated, KEYS) is None


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=400), st.integers(10**150, 10**200).map(str)))
def test_arbitrary_strings_are_refused(candidate: str) -> None:
    assert verify_offline(candidate, KEYS) is None


@settings(max_examples=200)
@given(
    key_id=st.integers(1, 2**40),
    event_id=st.integers(1, 2**40),
    ref=st.binary(min_size=8, max_size=8),
)
def test_parse_reads_back_what_mint_wrote(key_id: int, event_id: int, ref: bytes) -> None:
    parsed = parse(mint(PRIVATE, key_id, event_id, ref))
    assert parsed is not None
    assert (parsed.key_id, parsed.event_id, parsed.ref) == (key_id, event_id, ref)


def test_overlong_varint_is_refused() -> None:
    # key id 1 spelled in two bytes (0x81 0x00): same value, another byte string
    signed = bytes([ticket_codes.VERSION, 0x81, 0x00]) + bytes([0x01]) + b"\x00" * 8
    code = str(int.from_bytes(signed + PRIVATE.sign(signed), "big"))
    assert parse(code) is None


# -- sealed private keys ------------------------------------------------------------------


def test_vault_opens_only_for_its_event_and_key_and_secret() -> None:
    vault = KeyVault(b"secret one")
    sealed = vault.seal(5, 1, b"k" * 32)
    assert vault.open(5, 1, sealed) == b"k" * 32
    assert b"k" * 32 not in sealed
    with pytest.raises(SealedKeyError):
        vault.open(6, 1, sealed)
    with pytest.raises(SealedKeyError):
        vault.open(5, 2, sealed)
    with pytest.raises(SealedKeyError):
        KeyVault(b"secret two").open(5, 1, sealed)


def test_a_rotated_secret_still_opens_what_the_earlier_ones_sealed() -> None:
    """TICKET_SIGNING_KEY rotated: the old value in TICKET_SIGNING_KEY_PREVIOUS, and the key
    earlier versions derived from JWT_SECRET, still open the keys they sealed; new keys are
    sealed under the new secret only."""
    legacy = KeyVault(b"ticket-codes:the-jwt-secret").seal(5, 1, b"a" * 32)
    before = KeyVault(b"old ticket key").seal(5, 2, b"b" * 32)
    rotated = KeyVault(b"new ticket key", [b"old ticket key", b"ticket-codes:the-jwt-secret"])
    assert rotated.open(5, 1, legacy) == b"a" * 32
    assert rotated.open(5, 2, before) == b"b" * 32
    sealed_now = rotated.seal(5, 3, b"c" * 32)
    assert KeyVault(b"new ticket key").open(5, 3, sealed_now) == b"c" * 32
    with pytest.raises(SealedKeyError):
        KeyVault(b"old ticket key", [b"ticket-codes:the-jwt-secret"]).open(5, 3, sealed_now)
    with pytest.raises(SealedKeyError):  # an earlier secret dropped too soon
        KeyVault(b"new ticket key").open(5, 2, before)


class MemoryKeyStore:
    """The storage boundary, in memory, counting reads: proves when no lookup happens."""

    def __init__(self, partner_of: dict[int, int]) -> None:
        self.rows: list[GateKey] = []
        self.partner_of = partner_of
        self.reads = 0

    async def event_keys(self, event_id: int) -> list[GateKey]:
        self.reads += 1
        return sorted((k for k in self.rows if k.event_id == event_id), key=lambda k: k.key_id)

    async def partner_keys(self, partner_id: int) -> list[GateKey]:
        self.reads += 1
        return [k for k in self.rows if self.partner_of.get(k.event_id) == partner_id]

    async def add_key(self, key: GateKey) -> bool:
        if any((k.event_id, k.key_id) == (key.event_id, key.key_id) for k in self.rows):
            return False
        self.rows.append(key)
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_gate_keys_mint_verify_rotate_and_refuse_forgeries_without_lookups() -> None:
    store = MemoryKeyStore({10: 1, 20: 2})
    clock = Clock()
    keys = GateKeys(store, b"settings secret", clock)
    await keys.prepare([10, 20])
    first = keys.mint(10, "10-aaaaaaaaaaaaaaaaaaaa", 0)
    other_partner = keys.mint(20, "20-aaaaaaaaaaaaaaaaaaaa", 0)
    assert (await keys.verify(first, partner_id=1)) is not None
    assert await keys.verify(other_partner, partner_id=1) is None  # another partner's event

    reads = store.reads
    genuine = parse(first)
    assert genuine is not None
    forged = ["123", "x" * 90, mint(OTHER, 1, 10, b"\x00" * 8)]
    # another ticket's ref, or another tag, under the genuine code's tag and signature
    other_ref = bytes(b ^ 0xFF for b in genuine.signed[-14:-6])
    forged += [spell(genuine.signed[:-14] + other_ref + genuine.signed[-6:] + genuine.signature)]
    # (a byte flipped, not set: set to 0 it was the genuine tag once in 256 runs)
    forged += [spell(genuine.signed[:-1] + bytes([genuine.signed[-1] ^ 1]) + genuine.signature)]
    # a version-1 code (no tag) signed by another key
    forged += [legacy_mint(OTHER, 1, 10, genuine.ref)]
    for code in forged:
        assert await keys.verify(code, partner_id=1) is None
    assert store.reads == reads  # signature checked before (and instead of) any lookup

    legacy = legacy_mint(keys._signing[10].private_key, 1, 10, b"\x07" * 8)
    assert (await keys.verify(legacy, partner_id=1)) is not None  # minted before the tag

    rotated = await keys.rotate(10)
    assert [k.key_id for k in rotated] == [1, 2]
    await keys.prepare([10])
    second = keys.mint(10, "10-bbbbbbbbbbbbbbbbbbbb", 0)
    assert parse(second) is not None and parse(second).key_id == 2  # type: ignore[union-attr]
    assert await keys.verify(second, partner_id=1) is not None
    assert await keys.verify(first, partner_id=1) is not None  # old tickets stay genuine


async def test_unknown_keys_reload_at_most_four_times_a_second() -> None:
    store = MemoryKeyStore({10: 1})
    clock = Clock()
    keys = GateKeys(store, b"settings secret", clock)
    await keys.prepare([10])
    assert await keys.verify(keys.mint(10, "10-aaaaaaaaaaaaaaaaaaaa", 0), 1) is not None
    reads = store.reads
    unknown_keys = [
        mint(OTHER, key_id, event_id, b"\x00" * 8)
        for key_id, event_id in itertools.product(range(1, 11), (10, 11, 12))
    ]
    for code in unknown_keys:
        assert await keys.verify(code, 1) is None
    assert store.reads == reads  # within 0.25 s of the last load: no reload
    clock.now += 1
    for code in unknown_keys:
        assert await keys.verify(code, 1) is None
    assert store.reads == reads + 1


async def test_a_worker_picks_up_a_rotation_within_the_signing_ttl() -> None:
    store = MemoryKeyStore({10: 1})
    clock = Clock()
    worker = GateKeys(store, b"s", clock)
    api = GateKeys(store, b"s", clock)
    await worker.prepare([10])
    await api.rotate(10)
    await worker.prepare([10])
    assert parse(worker.mint(10, "10-aaaaaaaaaaaaaaaaaaaa", 0)).key_id == 1  # type: ignore[union-attr]
    clock.now += 61
    await worker.prepare([10])
    assert parse(worker.mint(10, "10-aaaaaaaaaaaaaaaaaaaa", 0)).key_id == 2  # type: ignore[union-attr]


# -- QR images and retries -----------------------------------------------------------------


def test_qr_png_is_the_symbol_with_its_quiet_zone() -> None:
    png = render_qr(CODE, box_size=3)
    image = Image.open(io.BytesIO(png))
    modules = qr_modules(CODE)
    assert len(modules) == 37  # version 5
    side = (len(modules) + 2 * QUIET_ZONE) * 3
    assert image.size == (side, side)
    pixels = image.convert("L")
    for y, row in enumerate(modules):
        for x, dark in enumerate(row):
            pixel = pixels.getpixel(((x + QUIET_ZONE) * 3 + 1, (y + QUIET_ZONE) * 3 + 1))
            assert (pixel == 0) == dark
    assert pixels.getpixel((1, 1)) == 255


def test_retries_back_off_then_stop() -> None:
    delays = [retry_after(attempt) for attempt in range(1, MAX_ATTEMPTS + 1)]
    assert delays[0] == 15 and delays[1] == 30
    assert all(
        a is not None and b is not None and a <= b for a, b in itertools.pairwise(delays[:-1])
    )
    assert delays[-1] is None


def spell(data: bytes) -> str:
    return str(int.from_bytes(data, "big"))


def legacy_mint(private: Ed25519PrivateKey, key_id: int, event_id: int, ref: bytes) -> str:
    """A version-1 code, as minted before the server tag: no tag, signature over the rest."""
    varint = ticket_codes._varint
    signed = bytes([ticket_codes.LEGACY_VERSION]) + varint(key_id) + varint(event_id) + ref
    return spell(signed + private.sign(signed))


def test_server_check_is_the_tag_under_the_events_key() -> None:
    parsed = parse(CODE)
    assert parsed is not None and parsed.version == ticket_codes.VERSION
    assert tagged_by(parsed, tag_key(PRIVATE))
    assert not tagged_by(parsed, tag_key(OTHER))
    assert not tagged_by(parse(mint(OTHER, KEY_ID, EVENT, parsed.ref)), tag_key(PRIVATE))  # type: ignore[arg-type]


@settings(max_examples=300)
@given(byte=st.integers(min_value=0), bit=st.integers(0, 7))
def test_every_changed_bit_before_the_signature_fails_the_tag(byte: int, bit: int) -> None:
    parsed = parse(CODE)
    assert parsed is not None
    signed = bytearray(parsed.signed)
    signed[1 + byte % (len(signed) - 1)] ^= 1 << bit  # the version byte aside
    mutated = parse(spell(bytes(signed) + parsed.signature))
    # either no longer well formed, or well formed with a tag that is not ours
    assert mutated is None or not tagged_by(mutated, tag_key(PRIVATE))


def test_a_changed_signature_passes_the_tag_but_not_offline() -> None:
    # what the tag leaves to the lookup (which matches the whole code): only the holder of a
    # genuine code can make these, and offline they are refused
    parsed = parse(CODE)
    assert parsed is not None
    changed = parse(spell(parsed.signed + bytes([parsed.signature[0] ^ 1]) + parsed.signature[1:]))
    assert isinstance(changed, TicketCode) and tagged_by(changed, tag_key(PRIVATE))
    assert verify_offline(spell(changed.signed + changed.signature), KEYS) is None


def test_version_1_codes_stay_genuine_by_signature() -> None:
    code = legacy_mint(PRIVATE, KEY_ID, EVENT, ticket_ref("4242-00112233445566778899", 0))
    parsed = parse(code)
    assert parsed is not None and parsed.version == 1
    assert (
        parsed.signed
        == bytes([1]) + ticket_codes._varint(KEY_ID) + ticket_codes._varint(EVENT) + parsed.ref
    )
    assert (parsed.key_id, parsed.event_id) == (KEY_ID, EVENT)
    assert verify_offline(code, KEYS) is not None
    assert signed_by(parsed, PRIVATE) and not signed_by(parsed, OTHER)
    assert not tagged_by(parsed, tag_key(PRIVATE))  # no tag: the server signs again instead
    assert verify_offline(legacy_mint(OTHER, KEY_ID, EVENT, parsed.ref), KEYS) is None


async def test_codes_still_verify_by_public_key_when_the_sealed_key_does_not_open() -> None:
    store = MemoryKeyStore({10: 1})
    worker = GateKeys(store, b"the secret the worker had")
    await worker.prepare([10])
    code = worker.mint(10, "10-aaaaaaaaaaaaaaaaaaaa", 0)
    api = GateKeys(store, b"a secret changed since")
    assert await api.verify(code, 1) is not None
    assert await api.verify(mint(OTHER, 1, 10, b"\x00" * 8), 1) is None
