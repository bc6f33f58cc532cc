"""Per-event Ed25519 keys that sign ticket codes: created on first need, rotatable, kept in
PostgreSQL with the private half sealed (AES-256-GCM under a key derived from
TICKET_SIGNING_KEY, independent of JWT_SECRET; earlier secrets still open what they sealed),
so neither half is ever in the repository.

- Workers mint: `prepare(event_ids)` loads (or creates) each event's signing key, then `mint`
  signs without I/O. The newest key of an event signs; older ones keep verifying what they
  signed, so a rotation never voids a ticket already sent.
- The API verifies: the keys of a scanner's partner stay in memory, so a forged code costs
  one signature and no database read (at most four reloads a second of an event's keys when
  codes name keys this process has not seen yet, and one at once after a rotation here). A
  live event's keys are copied beside its tickets (`LiveGateKeys`: written by hydration and
  by every key added), and a reload reads that copy, so scans of a live event never wait on
  PostgreSQL; only an event with no copy (not live) is looked up there. The server checks
  the code's tag, a keyed hash under a key derived from the event's private key (version-1
  codes, which have none: it signs their contents again and compares, Ed25519 being
  deterministic); scanners offline verify the signature with the public key.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine import ticket_codes
from engine.ticket_codes import (
    TicketCode,
    signature_ok,
    signed_by,
    tag_key,
    tagged_by,
    ticket_ref,
)

log = logging.getLogger(__name__)

SIGNING_KEY_TTL_S = 60.0  # a rotation reaches every worker within this
# a code naming a key this process has not seen reloads the partner's keys, at most this often:
# a flood of well-formed forged codes costs at most 4 small queries a second per partner
VERIFY_RELOAD_S = 0.25
_NONCE_BYTES = 12


class GateKey(msgspec.Struct, frozen=True):
    event_id: int
    key_id: int
    public_key: bytes  # raw 32 bytes
    sealed_private_key: bytes
    created_at: datetime | None = None


class GateKeyStore(Protocol):
    async def event_keys(self, event_id: int) -> list[GateKey]:
        """The event's keys, oldest first."""

    async def partner_keys(self, partner_id: int) -> list[GateKey]:
        """The keys of every event of this partner."""

    async def add_key(self, key: GateKey) -> bool:
        """False when the event already has a key with this id (someone else added it)."""

    async def event_partner(self, event_id: int) -> int | None:
        """The partner whose event this is; None if there is no such event."""


class EventKeyCopy(msgspec.Struct, frozen=True):
    """An event's keys (sealed private halves only) and its partner, as copied for the gate."""

    partner_id: int
    keys: list[GateKey]


class LiveGateKeys(Protocol):
    """The copy of live events' keys the gate reads instead of PostgreSQL."""

    async def event_copy(self, event_id: int) -> EventKeyCopy | None:
        """None when the event has no copy: it is not live."""

    async def write(self, event_id: int, keys: EventKeyCopy) -> None:
        """Add these keys to the event's copy (keys are only ever added)."""


class TicketSigner(Protocol):
    """What persistence needs to give each new ticket its code."""

    async def prepare(self, event_ids: Iterable[int]) -> None: ...

    def mint(self, event_id: int, order_id: str, line_no: int) -> str: ...


class SealedKeyError(RuntimeError):
    """A stored private key does not open: the ticket signing secret has changed."""


class KeyVault:
    """Seals private keys for storage; a sealed key opens only for its own event and key id.

    New keys are sealed under `secret`; keys sealed before under one of `earlier` secrets
    (a rotated TICKET_SIGNING_KEY, or the key once derived from JWT_SECRET) still open."""

    def __init__(self, secret: bytes, earlier: Sequence[bytes] = ()) -> None:
        self._aead = _aead_of(secret)
        self._earlier = [_aead_of(key) for key in earlier]

    @staticmethod
    def _context(event_id: int, key_id: int) -> bytes:
        return f"gate-key:{event_id}:{key_id}".encode()

    def seal(self, event_id: int, key_id: int, private_raw: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, private_raw, self._context(event_id, key_id))

    def open(self, event_id: int, key_id: int, sealed: bytes) -> bytes:
        nonce, box = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        for aead in (self._aead, *self._earlier):
            try:
                return aead.decrypt(nonce, box, self._context(event_id, key_id))
            except InvalidTag:
                continue
        raise SealedKeyError(
            f"gate key {key_id} of event {event_id} does not open: was TICKET_SIGNING_KEY "
            "changed without its old value in TICKET_SIGNING_KEY_PREVIOUS?"
        )


def _aead_of(secret: bytes) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"boxoffice gate keys v1"
    ).derive(secret)
    return AESGCM(derived)


@dataclass
class _Signing:
    loaded_at: float
    key_id: int
    private_key: Ed25519PrivateKey
    tag_key: bytes


@dataclass
class _Checker:
    public_key: Ed25519PublicKey
    private_key: Ed25519PrivateKey | None  # None: the sealed half did not open
    tag_key: bytes = b""

    def genuine(self, code: TicketCode) -> bool:
        if self.private_key is None:
            return signature_ok(code, self.public_key)
        if code.version == ticket_codes.VERSION:
            return tagged_by(code, self.tag_key)
        return signed_by(code, self.private_key)


_NEVER = float("-inf")
# events whose copies one partner's cache remembers reading; past this it forgets them (the
# keys stay), so codes naming ever new event ids cannot grow it without bound
_MAX_EVENTS_READ = 4096


@dataclass
class _PartnerKeys:
    loaded_at: float  # last load from PostgreSQL
    keys: dict[tuple[int, int], _Checker]
    # event id -> last read of its live copy (whatever it held: keys, another partner, none)
    copies_read: dict[int, float] = field(default_factory=dict)


class GateKeys:
    def __init__(
        self,
        store: GateKeyStore,
        secret: bytes,
        clock: Callable[[], float] = time.monotonic,
        live: LiveGateKeys | None = None,
        earlier_secrets: Sequence[bytes] = (),
    ) -> None:
        self._store = store
        self._live = live
        self._vault = KeyVault(secret, earlier_secrets)
        self._clock = clock
        self._signing: dict[int, _Signing] = {}
        self._verifying: dict[int, _PartnerKeys] = {}
        self._locks: dict[tuple[int, int], asyncio.Lock] = {}

    # -- minting (workers) ---------------------------------------------------------------

    async def prepare(self, event_ids: Iterable[int]) -> None:
        now = self._clock()
        for event_id in sorted(set(event_ids)):
            cached = self._signing.get(event_id)
            if cached is None or now - cached.loaded_at > SIGNING_KEY_TTL_S:
                key = (await self.keys(event_id))[-1]
                private_raw = self._vault.open(event_id, key.key_id, key.sealed_private_key)
                private = Ed25519PrivateKey.from_private_bytes(private_raw)
                self._signing[event_id] = _Signing(now, key.key_id, private, tag_key(private))

    def mint(self, event_id: int, order_id: str, line_no: int) -> str:
        signing = self._signing[event_id]  # prepare() first: minting never waits on I/O
        return ticket_codes.mint(
            signing.private_key,
            signing.key_id,
            event_id,
            ticket_ref(order_id, line_no),
            signing.tag_key,
        )

    # -- keys (created on first need, rotated on demand) ---------------------------------

    async def keys(self, event_id: int) -> list[GateKey]:
        keys = await self._store.event_keys(event_id)
        if not keys:
            await self._add(event_id, 1)  # a concurrent first need may win: either is fine
            keys = await self._store.event_keys(event_id)
            self._verifying.clear()
        return keys

    async def rotate(self, event_id: int) -> list[GateKey]:
        """A new signing key for the event; codes already minted keep verifying."""
        keys = await self._store.event_keys(event_id)
        await self._add(event_id, max((k.key_id for k in keys), default=0) + 1)
        self._signing.pop(event_id, None)
        self._verifying.clear()  # rare: the next scan reloads its partner's keys
        return await self._store.event_keys(event_id)

    async def _add(self, event_id: int, key_id: int) -> bool:
        private = Ed25519PrivateKey.generate()
        private_raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public_raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        sealed = self._vault.seal(event_id, key_id, private_raw)
        added = await self._store.add_key(GateKey(event_id, key_id, public_raw, sealed))
        await self._copy_to_live(event_id)  # whoever added it, the copy gets every key
        return added

    async def _copy_to_live(self, event_id: int) -> None:
        """Write the event's keys, as PostgreSQL now has them, into its copy. All of them,
        not just the new one: whichever of this and a hydration writes last, the copy ends
        up holding every key (writes only add)."""
        if self._live is None:
            return
        partner_id = await self._store.event_partner(event_id)
        if partner_id is not None:
            keys = await self._store.event_keys(event_id)
            await self._live.write(event_id, EventKeyCopy(partner_id, keys))

    # -- verifying (API) -----------------------------------------------------------------

    async def verify(self, code: str, partner_id: int) -> TicketCode | None:
        """The code's parts if it is genuine and signed for one of this partner's events."""
        parsed = ticket_codes.parse(code)
        if parsed is None:
            return None
        checker = await self._checker(partner_id, parsed.event_id, parsed.key_id)
        if checker is None or not checker.genuine(parsed):
            return None
        return parsed

    async def _checker(self, partner_id: int, event_id: int, key_id: int) -> _Checker | None:
        wanted = (event_id, key_id)
        known = self._verifying.get(partner_id)
        if known is not None:
            checker = known.keys.get(wanted)
            if checker is not None:
                return checker
            if not self._due(known, event_id) and not self._reloading(partner_id, event_id):
                return None  # read lately, and that key was not there
        # one reload serves every request waiting for it: those arriving while it runs wait
        # for it rather than find no key yet and call a genuine code invalid
        async with self._lock(partner_id, event_id):
            known = self._verifying.setdefault(partner_id, _PartnerKeys(_NEVER, {}))
            if wanted not in known.keys and self._due(known, event_id):
                await self._reload(known, partner_id, event_id)
        return known.keys.get(wanted)

    def _reloading(self, partner_id: int, event_id: int) -> bool:
        lock = self._locks.get((partner_id, event_id))
        return lock is not None and lock.locked()

    def _lock(self, partner_id: int, event_id: int) -> asyncio.Lock:
        """One per event, so a scan that waits on PostgreSQL holds up no live event's."""
        lock = self._locks.get((partner_id, event_id))
        if lock is None:
            if len(self._locks) >= _MAX_EVENTS_READ:
                self._locks = {k: held for k, held in self._locks.items() if held.locked()}
            lock = self._locks[(partner_id, event_id)] = asyncio.Lock()
        return lock

    def _due(self, known: _PartnerKeys, event_id: int) -> bool:
        """Whether a code naming a key not in memory may reload: a live event's copy at most
        every VERIFY_RELOAD_S, and PostgreSQL (all the partner's keys) as often."""
        if self._live is None:
            return self._stale(known.loaded_at)
        return self._stale(known.copies_read.get(event_id, _NEVER))

    async def _reload(self, known: _PartnerKeys, partner_id: int, event_id: int) -> None:
        if self._live is not None:
            if len(known.copies_read) >= _MAX_EVENTS_READ:
                known.copies_read.clear()
            known.copies_read[event_id] = self._clock()
            copy = await self._live.event_copy(event_id)
            if copy is not None:  # live: its copy is the whole truth, another partner's or not
                if copy.partner_id == partner_id:
                    self._remember(known, copy.keys)
                return
            if not self._stale(known.loaded_at):
                return
        known.loaded_at = self._clock()  # before the read: one at a time goes to PostgreSQL
        self._remember(known, await self._store.partner_keys(partner_id))

    def _remember(self, known: _PartnerKeys, keys: Iterable[GateKey]) -> None:
        for key in keys:
            if (key.event_id, key.key_id) not in known.keys:
                known.keys[(key.event_id, key.key_id)] = self._checker_of(key)

    def _checker_of(self, key: GateKey) -> _Checker:
        public = Ed25519PublicKey.from_public_bytes(key.public_key)
        try:
            raw = self._vault.open(key.event_id, key.key_id, key.sealed_private_key)
        except SealedKeyError:
            log.warning(
                "gate key %s/%s does not open: checking its codes by public key",
                key.event_id,
                key.key_id,
            )
            return _Checker(public, None)
        private = Ed25519PrivateKey.from_private_bytes(raw)
        return _Checker(public, private, tag_key(private))

    def _stale(self, loaded_at: float) -> bool:
        return self._clock() - loaded_at >= VERIFY_RELOAD_S
