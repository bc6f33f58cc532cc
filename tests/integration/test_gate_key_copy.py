"""The copy of a live event's gate keys in Redis (engine/gate_keys.py LiveGateKeys): written by
hydration and by every key added, read by scans instead of PostgreSQL, restored by the
reconciler after Redis lost its data."""

from __future__ import annotations

import asyncio
from typing import NoReturn

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from engine import keys
from engine.gate_keys import EventKeyCopy, GateKey, GateKeys, KeyVault
from engine.settings import get_settings, ticket_signing_key
from engine.store.pg_tickets import PgGateKeyStore
from engine.store.resources import Resources
from engine.ticket_codes import mint, parse
from tests.conftest import Actor
from tests.sale_setup import open_sale, reconcile

pytestmark = pytest.mark.cluster

FORGER = Ed25519PrivateKey.generate()


class PostgresUnreachable:
    """A gate key store whose PostgreSQL side must not be called."""

    async def event_keys(self, event_id: int) -> NoReturn:
        raise AssertionError(f"PostgreSQL read: keys of event {event_id}")

    async def partner_keys(self, partner_id: int) -> NoReturn:
        raise AssertionError(f"PostgreSQL read: keys of partner {partner_id}")

    async def add_key(self, key: GateKey) -> NoReturn:
        raise AssertionError("PostgreSQL write")

    async def event_partner(self, event_id: int) -> NoReturn:
        raise AssertionError(f"PostgreSQL read: partner of event {event_id}")


class CountedCopies:
    """The Redis copies, counting reads."""

    def __init__(self, resources: Resources) -> None:
        self._copies = resources.live_gate_keys
        self.reads = 0

    async def event_copy(self, event_id: int) -> EventKeyCopy | None:
        self.reads += 1
        return await self._copies.event_copy(event_id)

    async def write(self, event_id: int, copy: EventKeyCopy) -> None:
        await self._copies.write(event_id, copy)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def secret() -> bytes:
    return ticket_signing_key(get_settings())


def scanner_without_postgres(resources: Resources) -> GateKeys:
    """A fresh API process's gate keys while PostgreSQL is unreachable."""
    return GateKeys(PostgresUnreachable(), secret(), live=resources.live_gate_keys)


async def code_of(signer: GateKeys, event_id: int, order: str = "aaaaaaaaaaaaaaaaaaaa") -> str:
    await signer.prepare([event_id])
    return signer.mint(event_id, f"{event_id}-{order}", 0)


async def test_a_rotated_key_is_copied_at_once_and_its_codes_verify_without_postgres(
    resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id)
    copy = await resources.live_gate_keys.event_copy(sale.event_id)
    assert copy == EventKeyCopy(partner.id, [])  # hydrated before the event had a key

    signer = resources.gate_keys()
    first = await code_of(signer, sale.event_id)  # key 1, created on first need
    await signer.rotate(sale.event_id)
    second = await code_of(signer, sale.event_id, "bbbbbbbbbbbbbbbbbbbb")
    assert [parse(c).key_id for c in (first, second)] == [1, 2]  # type: ignore[union-attr]

    copy = await resources.live_gate_keys.event_copy(sale.event_id)
    stored = await PgGateKeyStore(resources.pool).event_keys(sale.event_id)
    assert copy is not None and copy.partner_id == partner.id
    assert sorted(copy.keys, key=lambda k: k.key_id) == stored  # sealed, as in PostgreSQL
    vault = KeyVault(secret())
    raw = await resources.redis.hgetall(keys.gate_keys(sale.event_id))
    for key in stored:
        opened = vault.open(key.event_id, key.key_id, key.sealed_private_key)
        assert not any(opened in value for value in raw.values())  # never the opened key

    scanner = scanner_without_postgres(resources)
    assert await scanner.verify(first, partner.id) is not None
    assert await scanner.verify(second, partner.id) is not None


async def test_a_code_of_another_partners_live_event_is_invalid(
    resources: Resources, partner: Actor, other_partner: Actor
) -> None:
    theirs = await open_sale(resources, other_partner.id)
    code = await code_of(resources.gate_keys(), theirs.event_id)
    scanner = scanner_without_postgres(resources)
    assert await scanner.verify(code, partner.id) is None
    assert await scanner.verify(code, other_partner.id) is not None


async def test_forged_codes_on_a_live_event_read_only_its_copy_and_at_most_four_times_a_second(
    resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id)
    genuine = await code_of(resources.gate_keys(), sale.event_id)
    copies = CountedCopies(resources)
    clock = Clock()
    scanner = GateKeys(PostgresUnreachable(), secret(), clock, live=copies)
    assert await scanner.verify(genuine, partner.id) is not None
    assert copies.reads == 1

    # a key the event does not have: no read within 0.25 s of the last, then one
    unknown_keys = [mint(FORGER, key_id, sale.event_id, b"\x00" * 8) for key_id in range(2, 50)]
    for code in unknown_keys:
        assert await scanner.verify(code, partner.id) is None
    assert copies.reads == 1
    clock.now += 1
    for code in unknown_keys:
        assert await scanner.verify(code, partner.id) is None
    assert copies.reads == 2
    clock.now += 1
    for code in unknown_keys:
        assert await scanner.verify(code, partner.id) is None
    assert copies.reads == 3

    # the event's own key, wrong signature: refused with no I/O at all
    clock.now += 1
    for ref in range(50):
        forged = mint(FORGER, 1, sale.event_id, ref.to_bytes(8, "big"))
        assert await scanner.verify(forged, partner.id) is None
    assert copies.reads == 3


async def test_an_event_not_in_redis_verifies_through_postgres(
    resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id)
    code = await code_of(resources.gate_keys(), sale.event_id)
    await resources.inventory.forget(sale.event_id)
    assert await resources.live_gate_keys.event_copy(sale.event_id) is None
    assert not await resources.redis.exists(keys.gate_keys(sale.event_id))

    with pytest.raises(AssertionError, match="PostgreSQL read: keys of partner"):
        await scanner_without_postgres(resources).verify(code, partner.id)
    assert await resources.gate_keys().verify(code, partner.id) is not None


async def test_after_redis_lost_its_data_the_reconciler_restores_the_copy(
    resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id)
    code = await code_of(resources.gate_keys(), sale.event_id)
    await resources.redis.flushdb()
    assert await resources.live_gate_keys.event_copy(sale.event_id) is None
    await reconcile(resources, sale.event_id)
    copy = await resources.live_gate_keys.event_copy(sale.event_id)
    assert copy is not None and copy.partner_id == partner.id
    assert [k.key_id for k in copy.keys] == [1]
    assert await scanner_without_postgres(resources).verify(code, partner.id) is not None


async def test_a_fresh_scanner_verifies_codes_of_several_live_events_at_once(
    resources: Resources, partner: Actor
) -> None:
    """Each event's copy is read on its first code: no rate limit shared between events."""
    sales = [await open_sale(resources, partner.id) for _ in range(3)]
    signer = resources.gate_keys()
    codes = [await code_of(signer, sale.event_id) for sale in sales]
    scanner = GateKeys(PostgresUnreachable(), secret(), Clock(), live=resources.live_gate_keys)
    for code in codes:
        assert await scanner.verify(code, partner.id) is not None


class SlowCopies(CountedCopies):
    """The Redis copies, each read taking 50 ms: a window in which other scans arrive."""

    async def event_copy(self, event_id: int) -> EventKeyCopy | None:
        await asyncio.sleep(0.05)
        return await super().event_copy(event_id)


async def test_scans_arriving_while_a_fresh_scanner_reads_the_keys_wait_for_them(
    resources: Resources, partner: Actor
) -> None:
    """A gate's first scans after the API (re)starts come together: those that arrive while
    the event's keys are being read wait for that read instead of finding no key and calling
    genuine tickets invalid; and one read serves them all."""
    sale = await open_sale(resources, partner.id)
    signer = resources.gate_keys()
    codes = [await code_of(signer, sale.event_id, f"{n:020d}") for n in range(64)]
    copies = SlowCopies(resources)
    scanner = GateKeys(PostgresUnreachable(), secret(), Clock(), live=copies)
    verified = await asyncio.gather(*(scanner.verify(code, partner.id) for code in codes))
    assert all(parts is not None for parts in verified)
    assert copies.reads == 1


async def test_scans_arriving_while_keys_are_read_from_postgres_wait_for_them(
    resources: Resources, partner: Actor
) -> None:
    """The same for an event not in Redis, whose keys come from PostgreSQL."""
    sale = await open_sale(resources, partner.id)
    signer = resources.gate_keys()
    codes = [await code_of(signer, sale.event_id, f"{n:020d}") for n in range(64)]
    await resources.inventory.forget(sale.event_id)
    scanner = GateKeys(
        PgGateKeyStore(resources.pool), secret(), Clock(), live=SlowCopies(resources)
    )
    verified = await asyncio.gather(*(scanner.verify(code, partner.id) for code in codes))
    assert all(parts is not None for parts in verified)
