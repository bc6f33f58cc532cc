"""The virtual waiting room of an event on sale.

Customers who join before the sale opens form a pre-queue; at the opening it is shuffled with
a cryptographic random source (`fair_order`), so arriving early or on a fast connection gives
no edge, and put ahead of everyone who joins later, first in, first out. Joining is idempotent
per customer and limited per client address.

Admission advances at the partner's `admit_per_minute` and never past `max_active` customers
shopping at once. A shopping slot frees when the customer's order is paid, expires or is
cancelled, or when the admission lapses unused, so no-shows do not stall the queue; from then
on the customer's admission token opens no new order (engine/admission.py asks the slot, not
only the token). The queue's state lives in Redis and admission is computed there from server
time on every visit (lua/waiting_room_visit.lua), so any number of API processes agree without a
coordinator.

The room's settings live in Redis beside the event's inventory, written by hydration
(engine/hydration.py) whenever the sale opens or changes and never expiring, so joins, polls
and the admission check on claims read nothing from PostgreSQL, and a partner's pause, resume
or new rate takes effect at the next visit. An event whose settings Redis does not have is not
on sale: its queue answers 404 and its claims are refused by the sale engine anyway.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

import msgspec

from engine.admission import issue_admission_token
from engine.errors import NotFound, TooManyAttempts
from engine.principal import Principal
from engine.rate_limits import OFF, Rate, retry_after_seconds

QueueState = Literal["waiting", "admitted", "sold_out", "closed"]
VisitMode = Literal["join", "status"]


# eq=False: a policy is compared and hashed by identity; the waiting-room store batches
# polls by (event, policy) object (engine/store/redis_waiting_room.py), and hashing the
# fields on every poll cost more than the batching saves
@dataclass(frozen=True, eq=False)
class RoomPolicy:
    admission_seconds: int = 300  # an admitted customer has this long to start an order
    joins_per_address: int = 20  # new joins of one event's queue from one client address ...
    address_window_seconds: int = 60  # ... per this many seconds
    # joins and polls of one event's queue per customer (lua/waiting_room_visit.lua): a page polls
    # every few seconds; a script polling thousands of times a second is refused
    visits_per_customer: Rate = OFF


class RoomSettings(
    msgspec.Struct,
    frozen=True,
    rename={
        "event_status": "st",
        "sale_starts_ms": "s",
        "sale_ends_ms": "e",
        "enabled": "on",
        "admit_per_minute": "r",
        "max_active": "m",
        "paused": "p",
    },
):
    """An event's waiting-room settings, hydrated from PostgreSQL into Redis with its sale
    window (short names: lua/waiting_room_visit.lua reads them)."""

    event_status: str | None  # None: no such event
    sale_starts_ms: int | None = None
    sale_ends_ms: int | None = None
    enabled: bool = False
    admit_per_minute: int = 0
    max_active: int = 0
    paused: bool = False

    @property
    def room_on(self) -> bool:
        return self.enabled and self.event_status == "published" and self.sale_starts_ms is not None


class Visit(msgspec.Struct, gc=False):
    """What lua/waiting_room_visit.lua answers about one customer. (`gc=False` here and below: one
    per poll, no cycles possible, so the cyclic collector need not track them.)"""

    st: str
    ahead: int = -1
    exp: int = 0
    opens: int = 0
    rate: float = -1
    opening: int = 0
    retry: int = 0


class QueueStatus(msgspec.Struct, gc=False):
    state: QueueState
    position: int | None
    ahead: int | None
    eta_seconds: int | None
    admission_token: str | None = None
    admission_expires_at: datetime | None = None
    opens_at: datetime | None = None  # while the sale has not opened yet


class QueueStore(Protocol):
    async def visit(
        self,
        event_id: int,
        customer_id: int,
        mode: VisitMode,
        address: str,
        policy: RoomPolicy,
    ) -> Visit: ...

    async def room_settings(self, event_id: int) -> RoomSettings | None:
        """The settings hydration wrote; None when the event is not on sale in Redis."""

    async def take_pre_queue(self, event_id: int) -> list[str] | None:
        """The frozen pre-queue, or None when another process is opening the queue."""

    async def open_queue(self, event_id: int, order: list[str]) -> None: ...

    async def may_shop(self, event_id: int, customer_id: int) -> bool:
        """Whether the customer's shopping slot is live; frees it if it is over."""

    async def order_placed(
        self, event_id: int, customer_id: int, order_id: str, expires_ms: int
    ) -> bool:
        """The slot follows the order now; False (and nothing changed) if it was over."""


def fair_order(pre_queue: list[str]) -> list[str]:
    """A uniformly random order of the pre-queue, drawn from the operating system's CSPRNG."""
    order = list(pre_queue)
    secrets.SystemRandom().shuffle(order)
    return order


def eta_seconds(ahead: int, admissions_per_minute: float) -> int | None:
    """Time until this customer's turn at the pace admission is going; None when stopped."""
    if admissions_per_minute <= 0:
        return None
    return math.ceil((ahead + 1) * 60 / admissions_per_minute)


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class WaitingRoom:
    def __init__(
        self,
        store: QueueStore,
        secret: str,
        policy: RoomPolicy | None = None,
    ) -> None:
        self._store = store
        self._secret = secret
        self.policy = policy or RoomPolicy()

    async def join(self, customer: Principal, event_id: int, address: str) -> QueueStatus:
        return await self._visit(customer, event_id, "join", address)

    async def status(self, customer: Principal, event_id: int) -> QueueStatus:
        return await self._visit(customer, event_id, "status", "")

    async def waiting_room_on(self, event_id: int) -> bool:
        settings = await self._store.room_settings(event_id)
        return settings is not None and settings.room_on

    async def may_shop(self, event_id: int, customer_id: int) -> bool:
        return await self._store.may_shop(event_id, customer_id)

    async def order_placed(
        self, event_id: int, customer_id: int, order_id: str, expires_ms: int
    ) -> bool:
        return await self._store.order_placed(event_id, customer_id, order_id, expires_ms)

    async def _visit(
        self, customer: Principal, event_id: int, mode: VisitMode, address: str
    ) -> QueueStatus:
        visit = await self._store.visit(event_id, customer.user_id, mode, address, self.policy)
        if visit.opening:
            await self._open(event_id)
            visit = await self._store.visit(
                event_id, customer.user_id, "status", address, self.policy
            )
        return self._status(customer.user_id, event_id, visit)

    async def _open(self, event_id: int) -> None:
        pre_queue = await self._store.take_pre_queue(event_id)
        if pre_queue is not None:
            await self._store.open_queue(event_id, fair_order(pre_queue))

    def _status(self, customer_id: int, event_id: int, visit: Visit) -> QueueStatus:
        if visit.st == "unknown":
            raise NotFound("No such event on sale")
        if visit.st == "absent":
            raise NotFound(f"Not in this event's queue: POST /events/{event_id}/queue to join")
        if visit.st == "limited":
            raise TooManyAttempts(
                max(1, math.ceil(visit.retry / 1000)),
                "Too many customers joined this queue from your address; try again later",
            )
        if visit.st == "rate_limited":
            raise TooManyAttempts(
                retry_after_seconds(visit.retry), "Too many visits to this queue; slow down"
            )
        if visit.st == "off":  # no waiting room: go straight to buying
            return QueueStatus(state="admitted", position=None, ahead=0, eta_seconds=0)
        if visit.st == "closed":
            return QueueStatus(state="closed", position=None, ahead=None, eta_seconds=None)
        if visit.st == "admitted":
            return QueueStatus(
                state="admitted",
                position=0,
                ahead=0,
                eta_seconds=0,
                admission_token=issue_admission_token(
                    customer_id, event_id, visit.exp, self._secret
                ),
                admission_expires_at=_moment(visit.exp),
            )
        return self._in_line(visit)

    def _in_line(self, visit: Visit) -> QueueStatus:
        state: QueueState = "sold_out" if visit.st == "sold_out" else "waiting"
        if visit.ahead < 0:  # in the pre-queue: the place is drawn when the sale opens
            return QueueStatus(
                state=state,
                position=None,
                ahead=None,
                eta_seconds=None,
                opens_at=_moment(visit.opens),
            )
        return QueueStatus(
            state=state,
            position=visit.ahead + 1,
            ahead=visit.ahead,
            eta_seconds=None if state == "sold_out" else eta_seconds(visit.ahead, visit.rate),
        )
