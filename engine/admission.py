"""Admission tokens, and the check `Orders.place` makes with them.

A customer admitted by an event's waiting room gets a signed token (JWT, HS256, audience
"admission", so an access token is never mistaken for one) bound to the customer and the
event, expiring with the admission. While the event's waiting room is on, a claim on that
event needs the token; without it (or with an expired one, another customer's or another
event's) the claim is refused with `admission_required`, and the refusal is recorded.

The token is also refused once the customer's shopping slot is over (their order was paid,
cancelled or expired, or the admission lapsed unused): that slot went to the next customer in
line, and the cap on customers shopping at once would not hold if the token still opened
orders. The slot is asked before the claim, and taken over by the new order after it in one
atomic step; when the slot ended in between, the caller gives the claim back.

Whether a room is on is remembered per process for a moment, so claims on events without a
waiting room pay no I/O for this check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import NoReturn, Protocol

import jwt
import msgspec

from engine.errors import AdmissionRequired
from engine.principal import Principal

ALGORITHM = "HS256"
AUDIENCE = "admission"
ROOM_CACHE_SECONDS = 1.0
_TURN_OVER = (
    "Your turn in the waiting room of event {0} is over (the admission lapsed, or its order was"
    " paid, cancelled or expired): join the queue again (POST /events/{0}/queue)"
)


class AdmissionGrant(msgspec.Struct, frozen=True):
    """What a valid admission token grants: this customer, on this event, until then."""

    customer_id: int
    event_id: int
    expires_at: int  # unix seconds


@lru_cache(maxsize=65536)
def issue_admission_token(customer_id: int, event_id: int, expires_ms: int, secret: str) -> str:
    """Deterministic for one admission, so every poll of an admitted customer returns it again."""
    payload = {
        "sub": str(customer_id),
        "ev": str(event_id),
        "aud": AUDIENCE,
        "exp": expires_ms // 1000,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read_admission_token(token: str, secret: str, now: float | None = None) -> AdmissionGrant:
    grant = _verified(token, secret)
    if grant is None or grant.expires_at <= (time.time() if now is None else now):
        raise AdmissionRequired("The admission token is missing, invalid or expired")
    return grant


@lru_cache(maxsize=65536)
def _verified(token: str, secret: str) -> AdmissionGrant | None:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "ev", "exp"], "verify_exp": False},
        )
        return AdmissionGrant(int(payload["sub"]), int(payload["ev"]), int(payload["exp"]))
    except (jwt.PyJWTError, TypeError, ValueError):
        return None


class WaitingRooms(Protocol):
    async def waiting_room_on(self, event_id: int) -> bool: ...

    async def may_shop(self, event_id: int, customer_id: int) -> bool: ...

    async def order_placed(
        self, event_id: int, customer_id: int, order_id: str, expires_ms: int
    ) -> bool: ...


class RefusalLog(Protocol):
    async def record_refusal(
        self, event_id: int, customer_id: int, code: str, requested: str
    ) -> None: ...


class Admission:
    """The gate in front of claims on events whose waiting room is on."""

    def __init__(
        self,
        rooms: WaitingRooms,
        refusals: RefusalLog,
        secret: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rooms = rooms
        self._refusals = refusals
        self._secret = secret
        self._clock = clock
        self._room_on: dict[int, tuple[bool, float]] = {}

    async def check(
        self, customer: Principal, event_ids: list[int], token: str | None, requested: str
    ) -> list[int]:
        """The events of the claim that are behind a waiting room; raises unless admitted."""
        gated = [event_id for event_id in event_ids if await self._is_on(event_id)]
        for event_id in gated:
            if not self._admits(token, customer.user_id, event_id):
                await self._refuse(
                    customer,
                    event_id,
                    requested,
                    f"Event {event_id} has a waiting room: join it (POST /events/{event_id}/queue)"
                    " and send the admission token in the X-Admission-Token header",
                )
            if not await self._rooms.may_shop(event_id, customer.user_id):
                await self._refuse(customer, event_id, requested, _TURN_OVER.format(event_id))
        return gated

    async def placed(
        self,
        customer: Principal,
        gated: list[int],
        order_id: str,
        expires_ms: int,
        requested: str,
    ) -> None:
        """The admitted customer's slot now follows the order until it is paid or released.
        Raises (recorded) when a slot ended since `check`: the caller gives the claim back."""
        for event_id in gated:
            if not await self._rooms.order_placed(event_id, customer.user_id, order_id, expires_ms):
                await self._refuse(customer, event_id, requested, _TURN_OVER.format(event_id))

    async def _refuse(
        self, customer: Principal, event_id: int, requested: str, detail: str
    ) -> NoReturn:
        await self._refusals.record_refusal(
            event_id, customer.user_id, AdmissionRequired.code, requested
        )
        raise AdmissionRequired(detail)

    def _admits(self, token: str | None, customer_id: int, event_id: int) -> bool:
        if not token:
            return False
        try:
            grant = read_admission_token(token, self._secret)
        except AdmissionRequired:
            return False
        return grant.customer_id == customer_id and grant.event_id == event_id

    async def _is_on(self, event_id: int) -> bool:
        now = self._clock()
        cached = self._room_on.get(event_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        on = await self._rooms.waiting_room_on(event_id)
        if len(self._room_on) > 100_000:
            self._room_on.clear()
        self._room_on[event_id] = (on, now + ROOM_CACHE_SECONDS)
        return on
