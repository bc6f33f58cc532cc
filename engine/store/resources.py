"""Connections a process holds: the PostgreSQL pool, the inventory Redis and the job queue's
Redis."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg
from redis.asyncio import Redis

from engine.gate_keys import GateKeys
from engine.live_tickets import TicketLoader
from engine.passwords import Passwords
from engine.settings import Settings, earlier_ticket_signing_keys, ticket_signing_key
from engine.store.claim_batcher import ClaimBatcher
from engine.store.pg_orders import PgOrderStore
from engine.store.pg_sale import PgSaleReads
from engine.store.pg_tickets import PgGateKeyStore, PgTicketStore
from engine.store.redis_client import SaleRedis, connect_sale_redis
from engine.store.redis_gate_keys import RedisGateKeys
from engine.store.redis_inventory import RedisInventory
from engine.store.redis_sale import RedisSaleStore
from engine.store.redis_tickets import RedisTickets
from engine.store.scripts import EventScripts


@dataclass
class Resources:
    settings: Settings
    pool: asyncpg.Pool
    redis: SaleRedis
    job_queue_redis: Redis
    passwords: Passwords
    scripts: EventScripts = field(init=False)
    sale_store: RedisSaleStore = field(init=False)
    sale_reads: PgSaleReads = field(init=False)
    order_store: PgOrderStore = field(init=False)
    inventory: RedisInventory = field(init=False)
    live_tickets: RedisTickets = field(init=False)
    ticket_store: PgTicketStore = field(init=False)
    ticket_loader: TicketLoader = field(init=False)
    live_gate_keys: RedisGateKeys = field(init=False)

    def __post_init__(self) -> None:
        self.scripts = EventScripts(self.redis)
        self.live_tickets = RedisTickets(self.redis, self.scripts)
        self.ticket_store = PgTicketStore(self.pool)
        self.live_gate_keys = RedisGateKeys(self.redis)
        self.ticket_loader = TicketLoader(self.ticket_store, self.live_tickets)
        limits = self.settings.rate_limits
        batcher = ClaimBatcher(self.scripts, limits.claims_per_customer, limits.claims_per_address)
        self.sale_store = RedisSaleStore(
            self.redis,
            self.scripts,
            batcher,
            self.ticket_loader,
            limits.pay_per_customer,
            payment_replicas=self.settings.payment_replicas,
            payment_wait_ms=self.settings.payment_wait_ms,
        )
        self.sale_reads = PgSaleReads(self.pool)
        self.order_store = PgOrderStore(self.pool)
        self.inventory = RedisInventory(self.redis, self.scripts, self.live_tickets)

    def gate_keys(self) -> GateKeys:
        """Gate keys kept in PostgreSQL, with live events' copies in Redis. Each call builds
        one with caches of its own: a process builds it once (engine/store/services.py)."""
        return GateKeys(
            PgGateKeyStore(self.pool),
            ticket_signing_key(self.settings),
            live=self.live_gate_keys,
            earlier_secrets=earlier_ticket_signing_keys(self.settings),
        )

    async def close(self) -> None:
        self.passwords.close()
        await self.redis.aclose()
        if self.job_queue_redis is not self.redis:
            await self.job_queue_redis.aclose()
        try:  # a connection stuck on an unreachable server must not hang shutdown
            await asyncio.wait_for(self.pool.close(), timeout=5)
        except TimeoutError:
            self.pool.terminate()


async def open_resources(settings: Settings, pool_size: int | None = None) -> Resources:
    """Connections for one process: `pool_size` PostgreSQL connections at most (the API's
    DB_POOL_SIZE unless given), the sale's Redis (a cluster client under REDIS_CLUSTER=1) and
    the job queue's standalone Redis (the same client when both URLs agree)."""
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=1,
        max_size=pool_size or settings.db_pool_size,
        command_timeout=30,
        statement_cache_size=settings.db_statement_cache_size,
    )
    redis = connect_sale_redis(settings.redis_url, cluster=settings.redis_cluster)
    job_queue_redis = (
        redis
        if isinstance(redis, Redis) and settings.job_queue_redis_url == settings.redis_url
        else Redis.from_url(settings.job_queue_redis_url)
    )
    passwords = Passwords(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.password_threads
    )
    return Resources(settings, pool, redis, job_queue_redis, passwords)
