"""A customer's tickets: listed once the order completes, QR images for the owner only and
rendered once, e-mail with the tickets on completion and a notice on cancellation."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine.persistence import Persister
from engine.store.mail_transports import EmlDirectory, SmtpTransport
from engine.store.pg_accounts import PgAccountStore
from engine.store.pg_tickets import PgMailOutbox
from engine.store.redis_order_log import RedisOrderLog
from engine.store.resources import Resources
from engine.ticket_mail import MailDelivery, MailLook
from engine.ticket_qr import render_qr
from tests.conftest import Actor, make_actor
from tests.sale_setup import OnSale, open_sale, seat_item

pytestmark = pytest.mark.cluster


def ticket_persister(resources: Resources) -> Persister:
    """The worker's persister: codes signed with the event's gate key."""
    keys = resources.gate_keys()
    return Persister(RedisOrderLog(resources.redis, resources.scripts), resources.order_store, keys)


async def place_and_pay(
    client: AsyncTestClient[Any], customer: Actor, sale: OnSale, seats: int = 1, quantity: int = 0
) -> str:
    items: list[dict[str, Any]] = [seat_item(sale, *sale.seat_ids[:seats])] if seats else []
    if quantity:
        items.append({"ticket_type_id": sale.pool_ids[0], "quantity": quantity})
    placed = await client.post("/orders", headers=customer.headers, json={"items": items})
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["id"]
    paid = await client.post(
        f"/orders/{order_id}/pay", headers=customer.headers, json={"payment_token": "tok_ok"}
    )
    assert paid.status_code == 202, paid.text
    return order_id


async def issue_tickets(
    client: AsyncTestClient[Any],
    resources: Resources,
    customer: Actor,
    sale: OnSale,
    seats: int = 1,
    quantity: int = 0,
) -> tuple[str, list[dict[str, Any]]]:
    """A completed order of `customer` and its tickets as the customer sees them."""
    order_id = await place_and_pay(client, customer, sale, seats, quantity)
    assert await ticket_persister(resources).persist([order_id]) == 1
    listed = await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["status"] == "completed"
    return order_id, listed.json()["items"]


async def cancel_and_persist(
    client: AsyncTestClient[Any], resources: Resources, customer: Actor, order_id: str
) -> None:
    cancelled = await client.post(f"/orders/{order_id}/cancel", headers=customer.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert await ticket_persister(resources).persist([order_id], include_paid=False) == 1


async def deliver_until_done(
    resources: Resources, order_id: str, kind: str, delivery: MailDelivery
) -> dict[str, Any]:
    """Run the worker's delivery step until this order's message is out; its outbox row.
    Messages other tests left in the outbox go out first (in order), to the same place."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = await resources.pool.fetchrow(
            "SELECT * FROM mail_outbox WHERE order_id = $1 AND kind = $2", order_id, kind
        )
        assert row is not None, f"no {kind} message queued for {order_id}"
        if row["status"] != "pending":
            return dict(row)
        await delivery.deliver_due()
    raise AssertionError("the message was never delivered")


def parse_eml(path: str) -> EmailMessage:
    message = email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def png_parts(message: EmailMessage) -> list[EmailMessage]:
    return [part for part in message.walk() if part.get_content_type() == "image/png"]  # type: ignore[misc]


# -- listing ------------------------------------------------------------------------------


async def test_tickets_appear_once_the_order_completes(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=2, pools=(5,))
    order_id = await place_and_pay(client, customer, sale, seats=2, quantity=1)
    for path in (f"/orders/{order_id}/tickets", f"/orders/{order_id}/ticket"):
        paid = await client.get(path, headers=customer.headers)
        assert paid.status_code == 200
        assert paid.json() == {"status": "paid", "items": []}

    assert await ticket_persister(resources).persist([order_id]) == 1
    done = await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    alias = await client.get(f"/orders/{order_id}/ticket", headers=customer.headers)
    assert done.json() == alias.json()
    body = done.json()
    assert body["status"] == "completed"
    assert len(body["items"]) == 3
    for item in body["items"]:
        assert set(item) == {"id", "event_id", "label", "code", "status", "qr_url"}
        assert item["event_id"] == sale.event_id
        assert item["status"] == "valid"
        assert item["qr_url"] == f"/tickets/{item['id']}/qr.png"
        assert item["code"].isdigit() and len(item["code"]) < 200
    assert [i["label"] for i in body["items"]][:2] == ["S1", "S2"]
    assert len({i["code"] for i in body["items"]}) == 3


async def test_reserved_order_has_no_tickets_and_others_cannot_see_them(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    placed = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    order_id = placed.json()["id"]
    reserved = await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    assert reserved.json() == {"status": "reserved", "items": []}

    stranger = await make_actor(client, "customer")
    for path in (f"/orders/{order_id}/tickets", f"/orders/{order_id}/ticket"):
        assert (await client.get(path, headers=stranger.headers)).status_code == 404
        assert (await client.get(path, headers=partner.headers)).status_code == 403
        assert (await client.get(path)).status_code == 401
    unknown = await client.get("/orders/1-00000000000000000000/tickets", headers=customer.headers)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"


# -- QR images ----------------------------------------------------------------------------


async def test_qr_png_for_the_owner_rendered_once(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    _, (ticket,) = await issue_tickets(client, resources, customer, sale)
    assert (
        await resources.pool.fetchval(
            "SELECT count(*) FROM ticket_qr_images WHERE ticket_id = $1", ticket["id"]
        )
        == 0
    )  # nothing rendered on the claim, pay or completion path

    first = await client.get(ticket["qr_url"], headers=customer.headers)
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/png"
    assert first.content == render_qr(ticket["code"])  # the QR code encodes the ticket code
    cached = await resources.pool.fetchval(
        "SELECT png FROM ticket_qr_images WHERE ticket_id = $1", ticket["id"]
    )
    assert cached == first.content

    # served from the cache from now on: a marker in the cache is what comes back
    await resources.pool.execute(
        "UPDATE ticket_qr_images SET png = $2 WHERE ticket_id = $1", ticket["id"], b"\x89PNGmark"
    )
    again = await client.get(ticket["qr_url"], headers=customer.headers)
    assert again.content == b"\x89PNGmark"


async def test_qr_png_is_nobody_elses(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    _, (ticket,) = await issue_tickets(client, resources, customer, sale)
    stranger = await make_actor(client, "customer")
    assert (await client.get(ticket["qr_url"], headers=stranger.headers)).status_code == 404
    assert (await client.get(ticket["qr_url"], headers=partner.headers)).status_code == 403
    assert (await client.get(ticket["qr_url"])).status_code == 401
    missing = await client.get("/tickets/999999999/qr.png", headers=customer.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    bad = await client.get("/tickets/0/qr.png", headers=customer.headers)
    assert bad.status_code in (400, 404, 422)


# -- e-mail -------------------------------------------------------------------------------


async def test_completion_writes_an_eml_with_the_codes_and_qr_images(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
    tmp_path: Path,
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    order_id, tickets = await issue_tickets(client, resources, customer, sale, seats=2)
    delivery = MailDelivery(PgMailOutbox(resources.pool), EmlDirectory(tmp_path))
    row = await deliver_until_done(resources, order_id, "tickets", delivery)
    assert row["status"] == "sent" and row["attempts"] == 1

    assert Path(row["delivered_to"]).parent == tmp_path
    message = parse_eml(row["delivered_to"])
    assert customer.user["email"] in message["To"]
    assert order_id in message["Subject"]
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    for ticket in tickets:
        assert ticket["code"] in text.get_content()
    images = png_parts(message)
    assert len(images) == 2
    assert {part.get_content() for part in images} == {render_qr(t["code"]) for t in tickets}
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    for part in images:
        assert part["Content-ID"].strip("<>") in html.get_content()
    # the worker rendered the images after completion; the API serves them from the cache
    cached = await resources.pool.fetchval(
        "SELECT count(*) FROM ticket_qr_images WHERE ticket_id = ANY($1::bigint[])",
        [t["id"] for t in tickets],
    )
    assert cached == 2


async def test_cancellation_sends_a_notice(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
    tmp_path: Path,
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    order_id, (ticket,) = await issue_tickets(client, resources, customer, sale)
    delivery = MailDelivery(PgMailOutbox(resources.pool), EmlDirectory(tmp_path))
    await deliver_until_done(resources, order_id, "tickets", delivery)
    await cancel_and_persist(client, resources, customer, order_id)

    row = await deliver_until_done(resources, order_id, "cancellation", delivery)
    assert row["status"] == "sent"
    message = parse_eml(row["delivered_to"])
    assert "cancelled" in message["Subject"]
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "void" in body.get_content() and ticket["code"][-8:] in body.get_content()
    listed = await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    assert listed.json()["status"] == "cancelled"
    assert [i["status"] for i in listed.json()["items"]] == ["void"]


async def test_mail_is_written_in_the_customers_language_and_links_to_the_account(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
    tmp_path: Path,
) -> None:
    """The language a customer chose (kept on the account) is the one of their e-mails."""
    await PgAccountStore(resources.pool).set_locale(customer.id, "pt-BR")
    sale = await open_sale(resources, partner.id, seats=1)
    order_id, (ticket,) = await issue_tickets(client, resources, customer, sale)
    look = MailLook(account_url="https://tickets.example.org/account/", time_zone="UTC")
    delivery = MailDelivery(PgMailOutbox(resources.pool), EmlDirectory(tmp_path), look=look)
    message = parse_eml(
        (await deliver_until_done(resources, order_id, "tickets", delivery))["delivered_to"]
    )
    assert message["Subject"] == f"Seus ingressos - pedido {order_id}"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "Seus pedidos e ingressos estão na sua conta:" in text.get_content()
    assert look.account_url in text.get_content()
    assert f'href="{look.account_url}"' in html.get_content()
    assert '<html lang="pt-BR">' in html.get_content()
    assert ticket["code"] in html.get_content()

    await cancel_and_persist(client, resources, customer, order_id)
    row = await deliver_until_done(resources, order_id, "cancellation", delivery)
    notice = parse_eml(row["delivered_to"])
    assert notice["Subject"] == f"Pedido {order_id} cancelado"


async def test_unpaid_orders_send_nothing(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    placed = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    order_id = placed.json()["id"]
    await client.post(f"/orders/{order_id}/cancel", headers=customer.headers)
    assert await ticket_persister(resources).persist([order_id], include_paid=False) == 1
    assert (
        await resources.pool.fetchval(
            "SELECT count(*) FROM mail_outbox WHERE order_id = $1", order_id
        )
        == 0
    )


class FlakyTransport:
    """The mail server boundary, faked: refuses the first `failures` messages."""

    def __init__(self, inner: EmlDirectory, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    async def send(self, message: EmailMessage, reference: str) -> str:
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("mail server down")
        return await self.inner.send(message, reference)


async def test_failed_delivery_is_retried_later(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
    tmp_path: Path,
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    order_id, _ = await issue_tickets(client, resources, customer, sale)
    flaky = FlakyTransport(EmlDirectory(tmp_path), failures=10**6)
    await deliver_until_done_or_retrying(
        resources, order_id, MailDelivery(PgMailOutbox(resources.pool), flaky)
    )
    row = await resources.pool.fetchrow(
        """SELECT *, next_attempt_at - now() AS wait FROM mail_outbox
            WHERE order_id = $1 AND kind = 'tickets'""",
        order_id,
    )
    assert row["status"] == "pending" and row["attempts"] == 1
    assert "mail server down" in row["last_error"]
    assert 10 < row["wait"].total_seconds() <= 15  # backs off before trying again

    await resources.pool.execute(  # time passes
        "UPDATE mail_outbox SET next_attempt_at = now() WHERE id = $1", row["id"]
    )
    flaky.failures = 0
    done = await deliver_until_done(
        resources, order_id, "tickets", MailDelivery(PgMailOutbox(resources.pool), flaky)
    )
    assert done["status"] == "sent" and done["attempts"] == 2 and done["last_error"] is None


async def deliver_until_done_or_retrying(
    resources: Resources, order_id: str, delivery: MailDelivery
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        attempts = await resources.pool.fetchval(
            "SELECT attempts FROM mail_outbox WHERE order_id = $1 AND kind = 'tickets'", order_id
        )
        if attempts:
            return
        await delivery.deliver_due()
    raise AssertionError("never attempted")


async def test_smtp_delivery(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    received: list[bytes] = []
    server = await asyncio.start_server(
        lambda r, w: tiny_smtp_session(r, w, received), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    try:
        sale = await open_sale(resources, partner.id, seats=1)
        order_id, (ticket,) = await issue_tickets(client, resources, customer, sale)
        transport = SmtpTransport(f"smtp://127.0.0.1:{port}?starttls=false")
        row = await deliver_until_done(
            resources, order_id, "tickets", MailDelivery(PgMailOutbox(resources.pool), transport)
        )
    finally:
        server.close()
        await server.wait_closed()
    assert row["status"] == "sent" and row["delivered_to"].startswith("smtp://127.0.0.1")
    mine = [m for m in received if order_id.encode() in m]
    assert len(mine) == 1
    message = email.message_from_bytes(mine[0], policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert [p.get_content() for p in png_parts(message)] == [render_qr(ticket["code"])]


async def tiny_smtp_session(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, received: list[bytes]
) -> None:
    """Just enough SMTP (RFC 5321) for one client: the far end of the mail boundary."""
    writer.write(b"220 test ESMTP\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"EHLO":
            writer.write(b"250-test\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            writer.write(b"354 go on\r\n")
            await writer.drain()
            data = await reader.readuntil(b"\r\n.\r\n")
            received.append(data[: -len(b".\r\n")].replace(b"\r\n..", b"\r\n."))
            writer.write(b"250 queued\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            break
        else:
            writer.write(b"250 ok\r\n")
        await writer.drain()
    writer.close()
