"""The engine's services of a process, built once at start-up from its `Resources`.

The API builds `Services` in its lifespan and every handler and hot path reads it from
there (api/services.py); a worker builds the part it needs, `Persistence`, with the same
function. One of each per process: the waiting room, the gate's key caches and the rate
limiter's scripts are shared by everything that uses them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.accounts import Accounts, StaffAccounts
from engine.admission import Admission
from engine.catalogue import Catalogue
from engine.dashboard import Dashboard
from engine.gate import Gate
from engine.gate_keys import GateKeys
from engine.inventory import Inventory
from engine.lineup import Lineup
from engine.orders import Orders, PersistJobQueue
from engine.persistence import DeadLetter, Persister
from engine.refresh_tokens import RefreshTokens
from engine.reports import Reports
from engine.revocation import RevokedUsers
from engine.seat_map import SeatMaps
from engine.store.event_orders import RedisEventOrders
from engine.store.pg_accounts import PgAccountStore
from engine.store.pg_catalogue import PgCatalogueStore
from engine.store.pg_inventory import PgInventoryStore
from engine.store.pg_lineup import PgLineupStore
from engine.store.pg_reports import PgReportStore
from engine.store.redis_dashboard import RedisLiveFigures
from engine.store.redis_idempotency import RedisIdempotencyStore
from engine.store.redis_order_log import RedisOrderLog
from engine.store.redis_rate_limit import RedisRateLimiter
from engine.store.redis_refresh import RedisRefreshStore
from engine.store.redis_revocation import RedisRevocationCopy
from engine.store.redis_throttle import RedisLoginThrottle
from engine.store.redis_waiting_room import waiting_room
from engine.store.redis_web_sessions import RedisWebSessionStore
from engine.store.resources import Resources
from engine.storefront import Storefront
from engine.tickets import Tickets
from engine.waiting_room import RoomPolicy, WaitingRoom
from engine.web_sessions import WebSessions


@dataclass(frozen=True)
class Persistence:
    """What moves orders from Redis into PostgreSQL: the API's (an event leaving Redis) and
    a worker's (everything else)."""

    order_log: RedisOrderLog
    gate_keys: GateKeys  # signs tickets as they are written, and verifies scans
    persister: Persister


def build_persistence(
    resources: Resources, on_dead_letter: Callable[[DeadLetter], None] | None = None
) -> Persistence:
    order_log = RedisOrderLog(resources.redis, resources.scripts)
    gate_keys = resources.gate_keys()
    persister = Persister(
        order_log, resources.order_store, gate_keys, on_dead_letter=on_dead_letter
    )
    return Persistence(order_log, gate_keys, persister)


@dataclass(frozen=True)
class Services:
    resources: Resources
    persistence: Persistence
    waiting_room: WaitingRoom
    orders: Orders
    catalogue: Catalogue
    inventory: Inventory
    lineup: Lineup
    reports: Reports
    accounts: Accounts
    tickets: Tickets
    gate: Gate
    revoked_users: RevokedUsers
    idempotency: RedisIdempotencyStore
    storefront: Storefront
    seat_maps: SeatMaps
    web_sessions: WebSessions  # the pages' browser sessions (web/)
    dashboard: Dashboard  # the panel's live figures
    staff: StaffAccounts  # a partner's gate accounts: list, disable


def build_services(resources: Resources, persist_queue: PersistJobQueue) -> Services:
    """The API's services; `persist_queue` enqueues the paid orders' persist jobs."""
    settings = resources.settings
    persistence = build_persistence(resources)
    limiter = RedisRateLimiter(resources.redis)
    policy = RoomPolicy(visits_per_customer=settings.rate_limits.queue_per_customer)
    room = waiting_room(resources.redis, settings.jwt_secret, policy)
    orders = Orders(
        resources.sale_store,
        resources.sale_reads,
        resources.order_store,
        persist_queue,
        admission=Admission(room, resources.sale_store, settings.jwt_secret),
    )
    event_orders = RedisEventOrders(
        persistence.order_log, persistence.persister, resources.inventory, resources.pool
    )
    lineup_store = PgLineupStore(resources.pool)
    accounts_store = PgAccountStore(resources.pool)
    reports = Reports(PgReportStore(resources.pool, resources.order_store), resources.inventory)
    catalogue = Catalogue(
        PgCatalogueStore(resources.pool),
        resources.inventory,
        resources.sale_reads,
        lineup_store,
        event_orders,
    )
    inventory_store = PgInventoryStore(resources.pool)
    return Services(
        resources=resources,
        persistence=persistence,
        waiting_room=room,
        orders=orders,
        catalogue=catalogue,
        inventory=Inventory(inventory_store, resources.inventory, resources.sale_reads),
        lineup=Lineup(lineup_store),
        reports=reports,
        accounts=Accounts(
            accounts_store,
            resources.passwords,
            RedisLoginThrottle(
                resources.redis,
                settings.login_limit_per_pair,
                settings.login_limit_per_email,
                settings.login_limit_per_address,
                settings.login_window_seconds,
            ),
            settings.jwt_secret,
            settings.jwt_ttl_seconds,
            limiter,
            settings.rate_limits,
            refresh_tokens=RefreshTokens(
                RedisRefreshStore(resources.redis), settings.refresh_ttl_seconds
            ),
        ),
        tickets=Tickets(resources.ticket_store, orders, live=resources.live_tickets),
        gate=Gate(
            resources.ticket_store,
            persistence.gate_keys,
            resources.live_tickets,
            resources.ticket_loader,
        ),
        revoked_users=RevokedUsers(RedisRevocationCopy(resources.redis), accounts_store),
        idempotency=RedisIdempotencyStore(resources.redis),
        storefront=Storefront(catalogue),
        seat_maps=SeatMaps(inventory_store, resources.inventory),
        web_sessions=WebSessions(
            RedisWebSessionStore(resources.redis), settings.session_ttl_seconds
        ),
        dashboard=Dashboard(RedisLiveFigures(resources.redis), reports),
        staff=StaffAccounts(accounts_store, RedisRevocationCopy(resources.redis)),
    )
