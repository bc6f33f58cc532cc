"""asyncpg behind PgBouncer in transaction pooling: each transaction may run on another
server connection, so a statement asyncpg prepared and cached on one is missing on the next.
With DB_STATEMENT_CACHE_SIZE=0 (what docker-compose.yml's `pgbouncer` profile sets) the
engine's PostgreSQL stores work through it; with asyncpg's default cache they fail, which is
why the setting exists."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import asyncpg
import pytest

from engine.settings import get_settings
from engine.store.resources import Resources, open_resources
from loadtests.setup_data import create_customers, create_partner
from tests import services as test_services
from tests.pgbouncer import pgbouncer
from tests.sale_setup import open_sale

CLIENT_POOL = 8  # client connections, over PgBouncer's 2 server connections
ROUNDS = 40


@pytest.fixture(scope="module")
def bouncer(services: test_services.TestServices) -> Iterator[str]:
    with pgbouncer(services.database_url, server_pool=2) as url:
        yield url


async def through(bouncer: str, statement_cache_size: int) -> Resources:
    settings = dataclasses.replace(
        get_settings(), database_url=bouncer, db_statement_cache_size=statement_cache_size
    )
    return await open_resources(settings, pool_size=CLIENT_POOL)


async def busy_reads(resources: Resources, event_id: int, type_id: int) -> None:
    """The same parametrised reads again and again from every pooled connection at once."""

    async def reads() -> None:
        for _ in range(ROUNDS):
            assert await resources.sale_reads.event_exists(event_id)
            assert await resources.sale_reads.event_of_ticket_type(type_id) == event_id

    await asyncio.gather(*(reads() for _ in range(CLIENT_POOL)))


async def test_the_stores_work_through_pgbouncer_without_a_statement_cache(
    bouncer: str, resources: Resources
) -> None:
    through_bouncer = await through(bouncer, statement_cache_size=0)
    try:
        partner = await create_partner(through_bouncer.pool)
        await create_customers(through_bouncer.pool, 5)
        # the event's rows, written in transactions through PgBouncer, then hydrated
        sale = await open_sale(through_bouncer, partner, seats=10, pools=(20,))
        snapshot = await through_bouncer.sale_reads.on_sale_snapshot(sale.event_id)
        assert snapshot is not None and len(snapshot.seats) == 10
        await busy_reads(through_bouncer, sale.event_id, sale.pool_ids[0])
    finally:
        await through_bouncer.close()


async def test_asyncpgs_default_statement_cache_breaks_behind_pgbouncer(
    bouncer: str, resources: Resources
) -> None:
    partner = await create_partner(resources.pool)
    sale = await open_sale(resources, partner, pools=(5,))
    cached = await through(bouncer, statement_cache_size=100)
    try:
        with pytest.raises(asyncpg.exceptions.PostgresError, match="prepared statement"):
            await busy_reads(cached, sale.event_id, sale.pool_ids[0])
    finally:
        await cached.close()
