"""E-mails are one spelling per address (engine/emails.py): NFKC and case folding before
uniqueness and lookup, so look-alike full-width addresses are the same account."""

from __future__ import annotations

import os
from itertools import count
from typing import Any

from litestar.testing import AsyncTestClient

from engine.emails import normalise_email
from engine.store.migrate import SQL_DIR
from engine.store.resources import Resources

_ids = count(1)
PASSWORD = "correct horse"


def full_width(text: str) -> str:
    """ASCII letters and digits as their full-width look-alikes (U+FF21...)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in text)


def look_alikes() -> tuple[str, str, str]:
    local = f"alice{next(_ids)}x{os.getpid()}"
    plain = f"{local}@example.com"
    return plain, f"{full_width(local)}@example.com", f"{local.upper()}@EXAMPLE.com"


def test_normal_form() -> None:
    assert normalise_email(" ＡＬＩＣＥ１@Example.COM ") == "alice1@example.com"
    assert normalise_email("ﬁ@example.com") == "fi@example.com"  # a ligature
    assert normalise_email("STRASSE@example.com") == normalise_email("straße@example.com")


async def test_a_full_width_look_alike_is_the_same_account(
    client: AsyncTestClient[Any],
) -> None:
    plain, wide, upper = look_alikes()
    body = {"role": "customer", "name": "Alice", "password": PASSWORD}
    first = await client.post("/auth/register", json={**body, "email": wide})
    assert first.status_code == 201, first.text
    assert first.json()["email"] == plain
    for other in (plain, upper):
        again = await client.post("/auth/register", json={**body, "email": other})
        assert again.status_code == 409, again.text
        assert again.json()["code"] == "email_taken"
    for spelling in (wide, plain, upper):
        login = await client.post("/auth/login", json={"email": spelling, "password": PASSWORD})
        assert login.status_code == 200, (spelling, login.text)
        assert login.json()["user"]["id"] == first.json()["id"]


async def test_migration_0011_normalises_stored_emails(resources: Resources) -> None:
    """Rows written before normalisation get the normal form; a row whose form another
    account already has is left for an operator rather than failing the migration."""
    plain, wide, _ = look_alikes()
    taken, taken_wide, _ = look_alikes()
    insert = """INSERT INTO users (role, name, email, password_hash)
                VALUES ('customer', 'Old', $1, 'x') RETURNING id"""
    async with resources.pool.acquire() as conn:
        legacy = await conn.fetchval(insert, wide)
        holder = await conn.fetchval(insert, taken)
        clash = await conn.fetchval(insert, taken_wide)
        await conn.execute((SQL_DIR / "0011_normalised_emails.sql").read_text())
        emails = dict(
            await conn.fetch(
                "SELECT id, email FROM users WHERE id = ANY($1)", [legacy, holder, clash]
            )
        )
    assert emails == {legacy: plain, holder: taken, clash: taken_wide}
