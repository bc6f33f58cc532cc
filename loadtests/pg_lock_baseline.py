"""The baseline `make bench` compares the Redis claim path with: claims made with PostgreSQL
row locks, which is what the seeds' designs would do, on the same HTTP stack.

`uvicorn loadtests.pg_lock_baseline:create_app --factory` serves the real app
(`api.app.create_app()`) plus two POST handlers that take the body of `POST /orders`, the same
Bearer customer token, and answer with the same order document (201) or problem+json (409):
- `SEAT_PATH`: one `UPDATE baseline_seats SET status = 'held' ... WHERE id = ANY($1) AND
  status = 'available' RETURNING ...` per event; fewer rows than seats asked is 409
  `seat_unavailable`;
- `GA_PATH`: `SELECT ... LIMIT quantity FOR UPDATE SKIP LOCKED` on a pool's units, then an
  UPDATE of those rows; fewer rows is 409 `sold_out`.
Each claim also inserts its `baseline_orders` row, in the same transaction, as the Redis path
writes an order document. The tables are not part of the product: the bench creates them in
its private database (`create_baseline_tables`), never the migrations.

A customer's well-formed claim is served before routing, registered as a hot path exactly as
`POST /orders` is (api/hot_paths.py, api/orders.py); the handlers answer the rest. A
plain Litestar POST handler that only authenticates and decodes runs at about half the rate
of GET /health, so without that the baseline alone would pay Litestar's
overhead and the comparison would flatter Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar, MediaType, Request, Response, post

from api.app import create_app as create_product_app
from api.auth import provide_customer
from api.hot_paths import (
    ASGIApp,
    BoxofficeApp,
    Receive,
    Scope,
    Send,
    Serve,
    authenticated,
    encode_json,
    respond_error,
    respond_json,
)
from api.orders import OrderIn, split_items
from api.services import services_of
from engine import errors
from engine.orders import HistoryEntry, Order, OrderLine

SEAT_PATH = "/baseline/pg-lock/orders/seats"
GA_PATH = "/baseline/pg-lock/orders/ga"
HOLD_SECONDS = 900

SCHEMA = """
CREATE TABLE IF NOT EXISTS baseline_orders (
    id uuid PRIMARY KEY,
    customer_id bigint NOT NULL,
    status text NOT NULL DEFAULT 'reserved',
    total_cents bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS baseline_seats (
    id bigserial PRIMARY KEY,
    event_id bigint NOT NULL,
    label text NOT NULL,
    price_cents bigint NOT NULL,
    status text NOT NULL DEFAULT 'available',
    order_id uuid REFERENCES baseline_orders DEFERRABLE INITIALLY DEFERRED,
    held_until timestamptz
);
CREATE TABLE IF NOT EXISTS baseline_pools (
    id bigserial PRIMARY KEY,
    event_id bigint NOT NULL,
    name text NOT NULL,
    price_cents bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS baseline_units (
    id bigserial PRIMARY KEY,
    pool_id bigint NOT NULL REFERENCES baseline_pools,
    status text NOT NULL DEFAULT 'available',
    order_id uuid REFERENCES baseline_orders DEFERRABLE INITIALLY DEFERRED,
    held_until timestamptz
);
CREATE INDEX IF NOT EXISTS baseline_units_available
    ON baseline_units (pool_id, id) WHERE status = 'available';
"""


async def create_baseline_tables(pool: asyncpg.Pool) -> None:
    await pool.execute(SCHEMA)


async def add_baseline_seats(
    pool: asyncpg.Pool, event_id: int, count: int, price_cents: int = 5000
) -> list[int]:
    rows = await pool.fetch(
        """INSERT INTO baseline_seats (event_id, label, price_cents)
           SELECT $1, 'S' || n, $2 FROM generate_series(1, $3) n RETURNING id""",
        event_id,
        price_cents,
        count,
    )
    await pool.execute("ANALYZE baseline_seats")
    return sorted(row["id"] for row in rows)


async def add_baseline_pool(
    pool: asyncpg.Pool, event_id: int, units: int, price_cents: int = 5000
) -> int:
    pool_id: int = await pool.fetchval(
        """INSERT INTO baseline_pools (event_id, name, price_cents)
           VALUES ($1, 'General', $2) RETURNING id""",
        event_id,
        price_cents,
    )
    await pool.execute(
        "INSERT INTO baseline_units (pool_id) SELECT $1 FROM generate_series(1, $2)",
        pool_id,
        units,
    )
    await pool.execute("ANALYZE baseline_units")
    return pool_id


class RowLockClaims:
    """All or nothing per request: every item is claimed in one transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def claim_seats(self, customer_id: int, seats: list[tuple[int, list[int]]]) -> Order:
        order_id, now = uuid.uuid4(), datetime.now(UTC)
        expires = now + timedelta(seconds=HOLD_SECONDS)
        lines: list[OrderLine] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for event_id, seat_ids in seats:
                wanted = sorted(set(seat_ids))
                rows = await conn.fetch(
                    """UPDATE baseline_seats SET status = 'held', order_id = $3, held_until = $4
                       WHERE id = ANY($1::bigint[]) AND event_id = $2 AND status = 'available'
                       RETURNING id, label, price_cents""",
                    wanted,
                    event_id,
                    order_id,
                    expires,
                )
                if len(rows) < len(wanted):
                    taken = sorted(set(wanted) - {row["id"] for row in rows})
                    raise errors.SeatUnavailable(f"Seats not available: {taken}", seat_ids=taken)
                lines += [
                    OrderLine(event_id, row["id"], None, row["label"], row["price_cents"])
                    for row in rows
                ]
            await self._insert_order(conn, order_id, customer_id, lines, expires)
        return _order(order_id, customer_id, lines, expires, now)

    async def claim_units(self, customer_id: int, pools: list[tuple[int, int]]) -> Order:
        order_id, now = uuid.uuid4(), datetime.now(UTC)
        expires = now + timedelta(seconds=HOLD_SECONDS)
        lines: list[OrderLine] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for pool_id, quantity in pools:
                free = await conn.fetch(
                    """SELECT id FROM baseline_units WHERE pool_id = $1 AND status = 'available'
                       LIMIT $2 FOR UPDATE SKIP LOCKED""",
                    pool_id,
                    quantity,
                )
                if len(free) < quantity:
                    raise errors.SoldOut(f"Fewer than {quantity} tickets left", pool_id=pool_id)
                rows = await conn.fetch(
                    """UPDATE baseline_units u SET status = 'held', order_id = $2, held_until = $3
                       FROM baseline_pools p WHERE u.id = ANY($1::bigint[]) AND p.id = u.pool_id
                       RETURNING p.event_id, p.name, p.price_cents""",
                    [row["id"] for row in free],
                    order_id,
                    expires,
                )
                lines += [
                    OrderLine(row["event_id"], None, pool_id, row["name"], row["price_cents"])
                    for row in rows
                ]
            await self._insert_order(conn, order_id, customer_id, lines, expires)
        return _order(order_id, customer_id, lines, expires, now)

    @staticmethod
    async def _insert_order(
        conn: Any, order_id: uuid.UUID, customer_id: int, lines: list[OrderLine], expires: datetime
    ) -> None:
        await conn.execute(
            """INSERT INTO baseline_orders (id, customer_id, total_cents, expires_at)
               VALUES ($1, $2, $3, $4)""",
            order_id,
            customer_id,
            sum(line.price_cents for line in lines),
            expires,
        )


def _order(
    order_id: uuid.UUID, customer_id: int, lines: list[OrderLine], expires: datetime, now: datetime
) -> Order:
    return Order(
        id=str(order_id),
        customer_id=customer_id,
        status="reserved",
        items=lines,
        total_cents=sum(line.price_cents for line in lines),
        expires_at=expires,
        created_at=now,
        history=[HistoryEntry("reserved", now)],
    )


_decode_order = msgspec.json.Decoder(OrderIn).decode


def _seats_of(body: bytes) -> list[tuple[int, list[int]]]:
    seats, pools = _items(body)
    if pools:
        raise errors.InvalidInput("this baseline claims seats only: {event_id, seat_ids}")
    return seats


def _pools_of(body: bytes) -> list[tuple[int, int]]:
    seats, pools = _items(body)
    if seats:
        raise errors.InvalidInput("this baseline claims GA only: {ticket_type_id, quantity}")
    return pools


def _items(body: bytes) -> tuple[list[tuple[int, list[int]]], list[tuple[int, int]]]:
    try:
        return split_items(_decode_order(body).items)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise errors.InvalidInput(str(exc)) from exc


@dataclass(frozen=True)
class ClaimKind:
    parse: Callable[[bytes], Any]
    claim: Callable[[RowLockClaims, int, Any], Awaitable[Order]]

    async def place(self, app: Any, customer_id: int, items: Any) -> Order:
        state = app.state
        if "row_lock_claims" not in state:
            state.row_lock_claims = RowLockClaims(services_of(app).resources.pool)
        return await self.claim(state.row_lock_claims, customer_id, items)


SEATS = ClaimKind(_seats_of, RowLockClaims.claim_seats)
GA = ClaimKind(_pools_of, RowLockClaims.claim_units)


def served_directly(kind: ClaimKind) -> Serve:
    """The hot-path serve function of a claim kind (see api/hot_paths.py): a customer's
    well-formed claim is answered here; anything else goes on to the handler with the body
    replayed, which answers 401, 403 and 422 as the app does."""

    async def serve(scope: Scope, receive: Receive, send: Send, pass_on: ASGIApp) -> int | None:
        served = await authenticated(scope, receive, send, pass_on, ("customer",), kind.parse)
        if served is None:
            return None
        customer, items = served
        try:
            order = await kind.place(scope["app"], customer.user_id, items)
        except errors.BoxofficeError as exc:
            return await respond_error(send, exc)
        return await respond_json(send, 201, order)

    return serve


async def _answer(request: Request[Any, Any, Any], kind: ClaimKind) -> Response[bytes]:
    customer = provide_customer(request)
    items = kind.parse(await request.body())
    order = await kind.place(request.app, customer.user_id, items)
    return Response(encode_json(order), status_code=201, media_type=MediaType.JSON)


@post(SEAT_PATH, include_in_schema=False)
async def claim_seats_with_row_locks(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _answer(request, SEATS)


@post(GA_PATH, include_in_schema=False)
async def claim_ga_with_row_locks(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _answer(request, GA)


def create_app() -> Litestar:
    """The product's app with the two baseline handlers: a uvicorn factory."""
    app = create_product_app()
    assert isinstance(app, BoxofficeApp)
    app.register(claim_seats_with_row_locks)
    app.register(claim_ga_with_row_locks)
    app.hot_path("POST", SEAT_PATH, served_directly(SEATS))
    app.hot_path("POST", GA_PATH, served_directly(GA))
    return app
