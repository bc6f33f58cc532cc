"""Create partners, customers and events on sale straight in PostgreSQL, then hydrate them:
the fast set-up shared by benchmarks, load tests and the sale-engine tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from engine.hydration import hydrate
from engine.store.resources import Resources


@dataclass
class OnSale:
    event_id: int
    seat_ids: list[int] = field(default_factory=list)
    pool_ids: list[int] = field(default_factory=list)


async def create_partner(pool: asyncpg.Pool, name: str = "Bench Partner") -> int:
    partner_id: int = await pool.fetchval(
        """INSERT INTO users (role, name, email, password_hash, company_name)
           VALUES ('partner', $1, 'partner-' || gen_random_uuid() || '@example.com', 'x',
                   'Bench Shows') RETURNING id""",
        name,
    )
    return partner_id


async def create_customers(pool: asyncpg.Pool, count: int) -> list[int]:
    rows = await pool.fetch(
        """INSERT INTO users (role, name, email, password_hash)
           SELECT 'customer', 'Buyer ' || n, 'buyer-' || gen_random_uuid() || '@example.com', 'x'
             FROM generate_series(1, $1) n RETURNING id""",
        count,
    )
    return [row["id"] for row in rows]


async def open_sale(
    resources: Resources,
    partner_id: int,
    seats: int = 0,
    pools: tuple[int, ...] = (),
    limit: int = 10,
    hold_seconds: int = 900,
    price_cents: int = 5000,
    sale_opens_in: timedelta = timedelta(0),
    starts_in: timedelta = timedelta(days=30),
) -> OnSale:
    """A published event whose on-sale window is open (unless `sale_opens_in`), hydrated."""
    now = datetime.now(UTC)
    pool: asyncpg.Pool = resources.pool
    event_id = await pool.fetchval(
        """INSERT INTO events (partner_id, name, venue, starts_at, status, sale_starts_at,
                               sale_ends_at, hold_seconds, max_tickets_per_customer)
           VALUES ($1, 'Flash sale', 'Arena', $2, 'published', $3, $4, $5, $6) RETURNING id""",
        partner_id,
        now + starts_in,
        now + sale_opens_in - timedelta(seconds=1),
        now + timedelta(days=1),
        hold_seconds,
        limit,
    )
    sale = OnSale(event_id)
    if seats:
        rows = await pool.fetch(
            """INSERT INTO seats (event_id, label, price_cents)
               SELECT $1, 'S' || n, $2 FROM generate_series(1, $3) n RETURNING id""",
            event_id,
            price_cents,
            seats,
        )
        sale.seat_ids = sorted(r["id"] for r in rows)
    for quantity in pools:
        sale.pool_ids.append(
            await pool.fetchval(
                """INSERT INTO ticket_types (event_id, name, price_cents, quantity)
               VALUES ($1, 'General', $2, $3) RETURNING id""",
                event_id,
                price_cents,
                quantity,
            )
        )
    await hydrate(event_id, resources.sale_reads, resources.inventory)
    return sale
