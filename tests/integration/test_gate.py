"""Check-in: the first scan of a genuine ticket wins, exactly once however many gates scan it
at the same moment; forged codes are refused before any lookup; cancelled tickets are void;
offline scanners verify codes with only the public keys and sync revocations."""

from __future__ import annotations

import asyncio
import base64
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from api.problems import PROBLEM_JSON
from engine.gate import ScanBy
from engine.live_tickets import write_scans
from engine.store.pg_tickets import PgTicketStore
from engine.store.resources import Resources
from engine.ticket_codes import mint, parse, verify_offline
from tests.conftest import Actor, make_actor, make_staff
from tests.integration.test_tickets import cancel_and_persist, issue_tickets, ticket_persister
from tests.sale_setup import open_sale

pytestmark = pytest.mark.cluster

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "result"}


async def scan(
    client: AsyncTestClient[Any], who: Actor, code: str, gate: str | None = "north"
) -> Any:
    body = {"code": code} if gate is None else {"code": code, "gate": gate}
    return await client.post("/tickets/validate", headers=who.headers, json=body)


def assert_problem(response: Any, status: int, result: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_FIELDS
    assert body["status"] == status and body["result"] == result
    return body


async def write_scans_now(resources: Resources, event_id: int) -> int:
    """The worker's step that writes a live event's scans to PostgreSQL."""
    return await write_scans(event_id, resources.live_tickets, resources.ticket_store)


def public_keys(listing: dict[str, Any]) -> dict[int, dict[int, bytes]]:
    return {
        listing["event_id"]: {
            key["key_id"]: base64.urlsafe_b64decode(key["public_key"] + "==")
            for key in listing["keys"]
        }
    }


# -- scanning -----------------------------------------------------------------------------


async def test_first_scan_admits_then_already_used_with_its_time(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    order_id, tickets = await issue_tickets(client, resources, customer, sale, seats=2)
    first = await scan(client, staff, tickets[0]["code"])
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["result"] == "admitted"
    assert body["ticket"]["id"] == tickets[0]["id"]
    assert body["ticket"]["status"] == "used"
    used_at = body["ticket"]["used_at"]

    again = await scan(client, staff, tickets[0]["code"], gate="south")
    problem = assert_problem(again, 409, "already_used")
    assert problem["code"] == "already_used"
    assert datetime.fromisoformat(problem["used_at"]) == datetime.fromisoformat(used_at)

    # the alias, and the owning partner scanning too
    other = await client.post(f"/tickets/{tickets[1]['code']}/validate", headers=partner.headers)
    assert other.status_code == 200 and other.json()["result"] == "admitted"
    assert_problem(
        await client.post(f"/tickets/{tickets[1]['code']}/validate", headers=staff.headers),
        409,
        "already_used",
    )
    # the customer sees the scans at once (Redis); PostgreSQL gets them with the worker's batch
    listed = await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    assert [i["status"] for i in listed.json()["items"]] == ["used", "used"]

    assert await write_scans_now(resources, sale.event_id) == 4
    log = await resources.pool.fetch(
        "SELECT scanned_by, gate, result FROM ticket_scans WHERE ticket_id = $1 ORDER BY id",
        tickets[0]["id"],
    )
    assert [tuple(row) for row in log] == [
        (staff.id, "north", "admitted"),
        (staff.id, "south", "already_used"),
    ]
    history = await resources.pool.fetch(
        "SELECT status FROM ticket_status_history WHERE ticket_id = $1 ORDER BY at, status",
        tickets[0]["id"],
    )
    assert [row["status"] for row in history] == ["valid", "used"]
    row = await resources.pool.fetchrow(
        "SELECT status, used_at FROM tickets WHERE id = $1", tickets[0]["id"]
    )
    assert row["status"] == "used" and row["used_at"] == datetime.fromisoformat(used_at)


async def test_fifty_gates_scanning_one_code_at_once_admit_it_once(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    _, (ticket,) = await issue_tickets(client, resources, customer, sale)
    responses = await asyncio.gather(
        *(scan(client, staff, ticket["code"], gate=f"gate-{n}") for n in range(50))
    )
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 49}
    used_at = {r.json().get("used_at") for r in responses if r.status_code == 409}
    assert len(used_at) == 1
    assert await write_scans_now(resources, sale.event_id) == 50
    results = await resources.pool.fetch(
        "SELECT result, count(*) AS n FROM ticket_scans WHERE ticket_id = $1 GROUP BY result",
        ticket["id"],
    )
    assert {row["result"]: row["n"] for row in results} == {"admitted": 1, "already_used": 49}


async def test_fifty_connections_racing_in_postgresql_admit_once(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    """Straight at the database with 50 connections released together, as from 50 API
    processes: the naive check-then-set lets many through; the guarded UPDATE lets one."""
    sale = await open_sale(resources, partner.id, seats=2)
    _, (naive_ticket, ticket) = await issue_tickets(client, resources, customer, sale, seats=2)
    pool = await asyncpg.create_pool(resources.settings.database_url, min_size=50, max_size=50)
    try:
        start = asyncio.Barrier(50)

        async def naive(conn: asyncpg.Connection) -> bool:
            status = await conn.fetchval(
                "SELECT status FROM tickets WHERE id = $1", naive_ticket["id"]
            )
            await start.wait()
            if status != "valid":
                return False
            await conn.execute(
                "UPDATE tickets SET status = 'used' WHERE id = $1", naive_ticket["id"]
            )
            return True

        async def with_connection(job: Any) -> Any:
            async with pool.acquire() as conn:
                return await job(conn)

        naive_admitted = await asyncio.gather(*(with_connection(naive) for _ in range(50)))
        assert sum(naive_admitted) > 1  # the race is real

        # a store each, as 50 API processes would be: no batching between them
        stores = [PgTicketStore(pool) for _ in range(50)]
        gate = asyncio.Barrier(50)

        async def guarded(n: int) -> str:
            await gate.wait()
            outcome = await stores[n].admit(
                ticket["code"], sale.event_id, ScanBy(partner.id, partner.id, f"g{n}")
            )
            return outcome.result

        results = await asyncio.gather(*(guarded(n) for n in range(50)))
        assert Counter(results) == {"admitted": 1, "already_used": 49}
    finally:
        await pool.close()


async def test_cancelled_tickets_are_void_at_the_gate_and_revoked_for_offline_scanners(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    before = datetime.now(UTC) - timedelta(seconds=1)
    order_id, tickets = await issue_tickets(client, resources, customer, sale, seats=2)
    revoked = await client.get(f"/events/{sale.event_id}/revoked", headers=staff.headers)
    assert revoked.json() == {"items": [], "next_cursor": None}

    async def revoked_codes() -> list[dict[str, Any]]:
        page = await client.get(
            f"/events/{sale.event_id}/revoked",
            headers=staff.headers,
            params={"since": before.isoformat(), "limit": 1},
        )
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) == 1 and page.json()["next_cursor"]
        rest = await client.get(
            f"/events/{sale.event_id}/revoked",
            headers=partner.headers,
            params={"since": before.isoformat(), "cursor": page.json()["next_cursor"]},
        )
        assert rest.json()["next_cursor"] is None
        items: list[dict[str, Any]] = page.json()["items"] + rest.json()["items"]
        return items

    # void from the cancel's answer on, for the gate and for offline scanners, before any
    # worker wrote the cancellation to PostgreSQL
    cancelled = await client.post(f"/orders/{order_id}/cancel", headers=customer.headers)
    assert cancelled.status_code == 200, cancelled.text
    for ticket in tickets:
        problem = assert_problem(await scan(client, staff, ticket["code"]), 410, "void")
        assert problem["code"] == "ticket_void"
    items = await revoked_codes()
    assert {i["code"] for i in items} == {t["code"] for t in tickets}
    assert {i["ticket_id"] for i in items} == {t["id"] for t in tickets}
    listed = await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    assert [i["status"] for i in listed.json()["items"]] == ["void", "void"]

    # once the worker wrote it, the same list (PostgreSQL's rows, Redis's times while live)
    assert await ticket_persister(resources).persist([order_id], include_paid=False) == 1
    assert (
        await resources.pool.fetchval(
            "SELECT count(*) FROM tickets WHERE order_id = $1 AND status = 'void'", order_id
        )
        == 2
    )
    assert await revoked_codes() == items
    later = await client.get(
        f"/events/{sale.event_id}/revoked",
        headers=staff.headers,
        params={"since": (datetime.now(UTC) + timedelta(seconds=5)).isoformat()},
    )
    assert later.json()["items"] == []


async def test_checked_in_counts_in_the_sales_report(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=3)
    _, tickets = await issue_tickets(client, resources, customer, sale, seats=3)
    for ticket in tickets[:2]:
        assert (await scan(client, staff, ticket["code"])).status_code == 200
    await scan(client, staff, tickets[0]["code"])  # a second scan is not a second person
    await write_scans_now(resources, sale.event_id)
    report = await client.get(f"/partner/events/{sale.event_id}/sales", headers=partner.headers)
    assert report.status_code == 200
    assert report.json()["checked_in"] == 2


# -- forged codes -------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def genuine(client: AsyncTestClient[Any], resources: Resources) -> dict[str, Any]:
    """One issued ticket and a scanner of its partner, for the property tests below."""
    partner = await make_actor(client, "partner")
    staff = await make_staff(client, partner)
    customer = await make_actor(client, "customer")
    sale = await open_sale(resources, partner.id, seats=1)
    _, (ticket,) = await issue_tickets(client, resources, customer, sale)
    return {"staff": staff, "ticket": ticket, "event_id": sale.event_id}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    position=st.integers(min_value=0),
    replacement=st.text(alphabet="0123456789", min_size=0, max_size=3),
    removed=st.integers(min_value=0, max_value=2),
)
async def test_mutated_codes_are_invalid(
    client: AsyncTestClient[Any],
    genuine: dict[str, Any],
    position: int,
    replacement: str,
    removed: int,
) -> None:
    code = genuine["ticket"]["code"]
    position %= len(code)
    mutated = code[:position] + replacement + code[position + removed :]
    if mutated == code:
        return
    response = await scan(client, genuine["staff"], mutated)
    body = assert_problem(response, 404, "invalid")
    assert body["code"] == "invalid_ticket"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    forged=st.one_of(
        st.text(min_size=1, max_size=300).filter(lambda s: "\x00" not in s),
        st.integers(10**170, 10**190).map(str),
    )
)
async def test_arbitrary_codes_are_invalid(
    client: AsyncTestClient[Any], genuine: dict[str, Any], forged: str
) -> None:
    response = await scan(client, genuine["staff"], forged)
    assert_problem(response, 404, "invalid")


async def test_code_signed_with_a_key_of_our_own_making_is_invalid_and_logged(
    client: AsyncTestClient[Any], resources: Resources, genuine: dict[str, Any]
) -> None:
    parsed = parse(genuine["ticket"]["code"])
    assert parsed is not None
    forged = mint(Ed25519PrivateKey.generate(), parsed.key_id, parsed.event_id, parsed.ref)
    staff = genuine["staff"]
    assert_problem(await scan(client, staff, forged, gate="forgery-check"), 404, "invalid")
    for _ in range(50):  # refused scans are logged in batches, off the request path
        logged = await resources.pool.fetchval(
            """SELECT count(*) FROM ticket_scans
                WHERE scanned_by = $1 AND gate = 'forgery-check' AND result = 'invalid'
                  AND ticket_id IS NULL""",
            staff.id,
        )
        if logged:
            break
        await asyncio.sleep(0.1)
    assert logged == 1
    # the genuine code was never touched
    status = await resources.pool.fetchval(
        "SELECT status FROM tickets WHERE id = $1", genuine["ticket"]["id"]
    )
    assert status == "valid"


async def test_genuine_code_with_a_changed_signature_is_invalid_and_admits_nothing(
    client: AsyncTestClient[Any], resources: Resources, genuine: dict[str, Any]
) -> None:
    # its tag is still ours (the tag covers what precedes the signature): the lookup, which
    # matches the whole code, is what refuses it
    parsed = parse(genuine["ticket"]["code"])
    assert parsed is not None
    signature = bytes([parsed.signature[0] ^ 0x01]) + parsed.signature[1:]
    changed = str(int.from_bytes(parsed.signed + signature, "big"))
    assert_problem(await scan(client, genuine["staff"], changed), 404, "invalid")
    status = await resources.pool.fetchval(
        "SELECT status FROM tickets WHERE id = $1", genuine["ticket"]["id"]
    )
    assert status == "valid"


async def test_bad_bodies_are_4xx(client: AsyncTestClient[Any], genuine: dict[str, Any]) -> None:
    staff = genuine["staff"]
    for body in (
        {},
        {"code": ""},
        {"code": "1" * 1001},
        {"code": 5},
        {"code": "1", "gate": ""},
        {"code": "1", "gate": "g" * 101},
        {"code": "a\x00b"},
    ):
        response = await client.post("/tickets/validate", headers=staff.headers, json=body)
        assert response.status_code in (400, 422), (body, response.text)
    long_path = await client.post(f"/tickets/{'1' * 1001}/validate", headers=staff.headers)
    assert long_path.status_code in (400, 404, 422)


# -- offline verification and keys --------------------------------------------------------


async def test_offline_scanner_verifies_with_only_the_public_keys(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=3)
    _, tickets = await issue_tickets(client, resources, customer, sale, seats=1)
    listing = await client.get(f"/events/{sale.event_id}/gate-keys", headers=staff.headers)
    assert listing.status_code == 200, listing.text
    assert listing.json()["keys"][0]["algorithm"] == "Ed25519"
    assert [k["signing"] for k in listing.json()["keys"]] == [True]
    offline = public_keys(listing.json())
    assert all(verify_offline(t["code"], offline) for t in tickets)
    assert "version (1 byte, =2)" in listing.json()["code_format"]
    assert all(documented_scanner(t["code"], offline) for t in tickets)

    rng = random.Random(4)
    for _ in range(200):
        code = tickets[0]["code"]
        at = rng.randrange(len(code))
        mutated = code[:at] + rng.choice("0123456789".replace(code[at], "")) + code[at + 1 :]
        assert verify_offline(mutated, offline) is None
    parsed = parse(tickets[0]["code"])
    assert parsed is not None
    own_key = mint(Ed25519PrivateKey.generate(), parsed.key_id, parsed.event_id, parsed.ref)
    assert verify_offline(own_key, offline) is None

    # rotation: new tickets get the new key; old ones still verify, offline and at the gate
    rotated = await client.post(
        f"/events/{sale.event_id}/gate-keys/rotate", headers=partner.headers
    )
    assert rotated.status_code == 201, rotated.text
    assert [(k["key_id"], k["signing"]) for k in rotated.json()["keys"]] == [
        (1, False),
        (2, True),
    ]
    buyer = await make_actor(client, "customer")
    _, later = await _issue_seat(client, resources, buyer, sale, 1)
    assert parse(later[0]["code"]).key_id == 2  # type: ignore[union-attr]
    offline = public_keys(rotated.json())
    assert verify_offline(later[0]["code"], offline) is not None
    assert verify_offline(tickets[0]["code"], offline) is not None
    assert (await scan(client, staff, later[0]["code"])).status_code == 200
    assert (await scan(client, staff, tickets[0]["code"])).status_code == 200


def documented_scanner(code: str, keys: dict[int, dict[int, bytes]]) -> bool:
    """A scanner written from the `code_format` the gate-keys listing publishes, sharing no
    code with the engine: proves the published format is the one minted."""
    data = int(code).to_bytes((int(code).bit_length() + 7) // 8, "big")
    if data[0] != 2:
        return False
    at, numbers = 1, []
    for _ in range(2):  # key_id, then event_id: LEB128
        value = shift = 0
        while data[at] & 0x80:
            value |= (data[at] & 0x7F) << shift
            shift, at = shift + 7, at + 1
        numbers.append(value | data[at] << shift)
        at += 1
    key_id, event_id = numbers
    signed_end = at + 8 + 6  # ticket ref, server tag
    if len(data) != signed_end + 64:
        return False
    public = Ed25519PublicKey.from_public_bytes(keys[event_id][key_id])
    try:
        public.verify(data[signed_end:], data[:signed_end])
    except InvalidSignature:
        return False
    return True


async def _issue_seat(
    client: AsyncTestClient[Any], resources: Resources, buyer: Actor, sale: Any, index: int
) -> tuple[str, list[dict[str, Any]]]:
    from tests.integration.test_tickets import ticket_persister

    placed = await client.post(
        "/orders",
        headers=buyer.headers,
        json={"items": [{"event_id": sale.event_id, "seat_ids": [sale.seat_ids[index]]}]},
    )
    order_id = placed.json()["id"]
    await client.post(
        f"/orders/{order_id}/pay", headers=buyer.headers, json={"payment_token": "tok_ok"}
    )
    assert await ticket_persister(resources).persist([order_id]) == 1
    listed = await client.get(f"/orders/{order_id}/tickets", headers=buyer.headers)
    return order_id, listed.json()["items"]


async def test_gate_keys_exist_before_any_sale(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, staff: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    first = await client.get(f"/events/{sale.event_id}/gate-keys", headers=staff.headers)
    again = await client.get(f"/events/{sale.event_id}/gate-keys", headers=partner.headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(first.json()["keys"]) == 1
    sealed = await resources.pool.fetchval(
        "SELECT sealed_private_key FROM gate_keys WHERE event_id = $1", sale.event_id
    )
    assert len(sealed) == 12 + 32 + 16  # nonce, the sealed 32-byte key, its tag


# -- who may do what ----------------------------------------------------------------------


async def test_authorization_of_every_gate_endpoint(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
    other_partner: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    _, (ticket,) = await issue_tickets(client, resources, customer, sale)
    other_staff = await make_staff(client, other_partner)
    event = f"/events/{sale.event_id}"

    # customers never scan nor read keys: 403; anonymous: 401
    for who, status in ((customer, 403), (None, 401)):
        headers = who.headers if who else {}
        assert (
            await client.post("/tickets/validate", headers=headers, json={"code": ticket["code"]})
        ).status_code == status
        assert (
            await client.post(f"/tickets/{ticket['code']}/validate", headers=headers)
        ).status_code == status
        assert (await client.get(f"{event}/gate-keys", headers=headers)).status_code == status
        assert (await client.get(f"{event}/revoked", headers=headers)).status_code == status
        assert (
            await client.post(f"{event}/gate-keys/rotate", headers=headers)
        ).status_code == status

    # another partner and its staff: the ticket and the event do not exist for them
    for who in (other_partner, other_staff):
        assert_problem(await scan(client, who, ticket["code"]), 404, "invalid")
        assert (await client.get(f"{event}/gate-keys", headers=who.headers)).status_code == 404
        assert (await client.get(f"{event}/revoked", headers=who.headers)).status_code == 404
    assert (
        await client.post(f"{event}/gate-keys/rotate", headers=other_partner.headers)
    ).status_code == 404
    # staff scan and read keys, but rotating is the partner's
    assert (
        await client.post(f"{event}/gate-keys/rotate", headers=staff.headers)
    ).status_code == 403
    assert (
        await client.get("/events/999999999/gate-keys", headers=staff.headers)
    ).status_code == 404

    # none of those touched the ticket: its owner's staff still admits it first
    assert (await scan(client, staff, ticket["code"])).status_code == 200


async def test_scans_answered_together_get_what_each_alone_would(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    """Scans that arrive together share one statement: duplicates, void, used and unknown
    tickets in the same batch each get their own answer, and the first of a code wins."""
    sale = await open_sale(resources, partner.id, seats=4)
    _, (twice, fresh, used) = await issue_tickets(client, resources, customer, sale, seats=3)
    buyer = await make_actor(client, "customer")
    void_order, (void,) = await _issue_seat(client, resources, buyer, sale, 3)
    await cancel_and_persist(client, resources, buyer, void_order)
    store = PgTicketStore(resources.pool)
    by = ScanBy(partner.id, partner.id, "batch")
    assert (await store.admit(used["code"], sale.event_id, by)).result == "admitted"

    codes = [twice["code"]] * 4 + [fresh["code"], used["code"], void["code"], "1" * 180]
    scans = await asyncio.gather(*(store.admit(code, sale.event_id, by) for code in codes))
    assert [s.result for s in scans] == [
        "admitted",
        "already_used",
        "already_used",
        "already_used",
        "admitted",
        "already_used",
        "void",
        "invalid",
    ]
    assert {s.used_at for s in scans[1:4]} == {scans[0].ticket.used_at}  # type: ignore[union-attr]
    logged = await resources.pool.fetch(
        "SELECT result, count(*) AS n FROM ticket_scans WHERE gate = 'batch' AND scanned_by = $1"
        " GROUP BY result",
        partner.id,
    )
    assert {r["result"]: r["n"] for r in logged} == {
        "admitted": 3,
        "already_used": 4,
        "void": 1,
        "invalid": 1,
    }


async def test_a_scan_updates_its_ticket_in_place_and_seats_stay_one_live_ticket_each(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    _, (first, second) = await issue_tickets(client, resources, customer, sale, seats=2)
    async with resources.pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            # what a first scan writes: heap-only (no index entry), so gates stay cheap. The
            # view also counts this connection's earlier transactions not yet reported: the
            # difference is this UPDATE's
            hot_updates = (
                "SELECT n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'tickets'"
            )
            before = await conn.fetchval(hot_updates) or 0
            await conn.execute(
                "UPDATE tickets SET status = 'used', used_at = now() WHERE id = $1", first["id"]
            )
            assert await conn.fetchval(hot_updates) == before + 1
            seat = await conn.fetchval("SELECT seat_id FROM tickets WHERE id = $1", first["id"])
            # the last line of defence: a used ticket still holds its seat ...
            with pytest.raises(asyncpg.UniqueViolationError):
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE tickets SET seat_id = $1 WHERE id = $2", seat, second["id"]
                    )
            # ... and a void one frees it for the next live ticket
            await conn.execute("UPDATE tickets SET status = 'void' WHERE id = $1", first["id"])
            await conn.execute("UPDATE tickets SET seat_id = $1 WHERE id = $2", seat, second["id"])
        finally:
            await transaction.rollback()  # leave the tickets as they were
