"""`python -m loadtests.setup`: create what a load test needs, quickly, and write its plan.

Partners (each with a gate scanner), events on sale (reserved seating or general admission,
waiting room on or off), their inventory, N customers with access tokens and a few users with
real passwords for the login storm. Rows go in with bulk SQL (loadtests/setup_data.py style);
each sale window is opened through the API (`PUT /events/{id}/sale`), so the event is loaded
into the sale engine exactly as a partner's would be.

Needs the environment of the API it targets: DATABASE_URL, REDIS_URL and the same JWT_SECRET
(or BOXOFFICE_DATA_DIR holding its generated secret). The plan (JSON) holds ids and tokens for
the Locust users; see `Plan` below.

    python -m loadtests.setup --host http://127.0.0.1:8000 --customers 2000 \
        --event seated:200 --event ga:400:room --plan .data/loadtest-plan.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from argon2 import PasswordHasher

from engine.principal import Principal
from engine.settings import get_settings
from engine.tokens import issue_access_token
from loadtests.setup_data import create_customers, create_partner

SEATS_PER_ROW = 20
TOKEN_TTL_SECONDS = 12 * 3600
LOGIN_PASSWORD = "storm-password-1"
CHUNK = 1000


class Progress:
    """A plain progress bar on stderr: no dependency, redrawn at most ten times a second."""

    def __init__(self, label: str, total: int, width: int = 30) -> None:
        self.label, self.total, self.width = label, max(total, 1), width
        self.done = 0
        self._drawn = 0.0
        self._draw(force=True)

    def advance(self, count: int = 1) -> None:
        self.done = min(self.done + count, self.total)
        self._draw(force=self.done == self.total)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        filled = self.width * self.done // self.total
        bar = "#" * filled + "-" * (self.width - filled)
        percent = 100 * self.done // self.total
        end = "\n" if self.done >= self.total else ""
        sys.stderr.write(
            f"\r{self.label:<14} [{bar}] {self.done:>7,}/{self.total:,} {percent:>3}%{end}"
        )
        sys.stderr.flush()


@dataclass
class EventSpec:
    kind: str  # "seated" | "ga"
    capacity: int
    waiting_room: bool

    @classmethod
    def parse(cls, text: str) -> EventSpec:
        """`seated:200`, `ga:400`, `ga:2000:room` (waiting room on)."""
        parts = text.split(":")
        if len(parts) not in (2, 3) or parts[0] not in ("seated", "ga"):
            raise argparse.ArgumentTypeError(f"event spec {text!r}: KIND:CAPACITY[:room]")
        if len(parts) == 3 and parts[2] != "room":
            raise argparse.ArgumentTypeError(f"event spec {text!r}: third part must be 'room'")
        capacity = int(parts[1])
        if capacity < 1:
            raise argparse.ArgumentTypeError(f"event spec {text!r}: capacity must be positive")
        return cls(parts[0], capacity, len(parts) == 3)


@dataclass
class PlanEvent:
    id: int
    kind: str
    capacity: int
    waiting_room: bool
    partner: int  # index into Plan.partners
    seat_ids: list[int] = field(default_factory=list)
    ticket_type_ids: list[int] = field(default_factory=list)


@dataclass
class PlanPartner:
    id: int
    token: str
    staff_id: int
    staff_token: str


@dataclass
class Plan:
    host: str
    created_at: str
    hold_seconds: int
    max_tickets_per_customer: int
    partners: list[PlanPartner]
    events: list[PlanEvent]
    customers: list[tuple[int, str]]  # (id, access token)
    login_users: list[str]  # e-mails; every one has the password LOGIN_PASSWORD
    login_password: str = LOGIN_PASSWORD

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))


def read_plan(path: Path | str) -> Plan:
    raw: dict[str, Any] = json.loads(Path(path).read_text())
    raw["partners"] = [PlanPartner(**p) for p in raw["partners"]]
    raw["events"] = [PlanEvent(**e) for e in raw["events"]]
    raw["customers"] = [tuple(c) for c in raw["customers"]]
    return Plan(**raw)


# --- rows -------------------------------------------------------------------------------


async def create_staff(pool: asyncpg.Pool, partner_id: int) -> int:
    staff_id: int = await pool.fetchval(
        """INSERT INTO users (role, name, email, password_hash, partner_id)
           VALUES ('staff', 'Gate scanner', 'gate-' || gen_random_uuid() || '@example.com',
                   'x', $1) RETURNING id""",
        partner_id,
    )
    return staff_id


async def create_event(pool: asyncpg.Pool, partner_id: int, index: int, spec: EventSpec) -> int:
    """A published event with no sale window yet: the API opens it."""
    event_id: int = await pool.fetchval(
        """INSERT INTO events (partner_id, name, description, venue, starts_at, status)
           VALUES ($1, $2, $3, 'Load Test Arena', $4, 'published') RETURNING id""",
        partner_id,
        f"Flash sale {index + 1} ({spec.kind}, {spec.capacity})",
        "created by loadtests.setup",
        datetime.now(UTC) + timedelta(days=30 + index),
    )
    return event_id


async def create_seats(
    pool: asyncpg.Pool, event_id: int, count: int, progress: Progress
) -> list[int]:
    ids: list[int] = []
    for start in range(0, count, CHUNK):
        rows = await pool.fetch(
            """INSERT INTO seats (event_id, label, section, price_cents)
               SELECT $1, 'R' || ((n - 1) / $4 + 1) || '-' || ((n - 1) % $4 + 1),
                      'Block ' || ((n - 1) / ($4 * 10) + 1), 7500
                 FROM generate_series($2::int, $3::int) n RETURNING id""",
            event_id,
            start + 1,
            min(start + CHUNK, count),
            SEATS_PER_ROW,
        )
        ids.extend(r["id"] for r in rows)
        progress.advance(len(rows))
    return sorted(ids)


async def create_ticket_type(pool: asyncpg.Pool, event_id: int, quantity: int) -> int:
    type_id: int = await pool.fetchval(
        """INSERT INTO ticket_types (event_id, name, price_cents, quantity)
           VALUES ($1, 'General admission', 4500, $2) RETURNING id""",
        event_id,
        quantity,
    )
    return type_id


async def create_login_users(pool: asyncpg.Pool, count: int) -> list[str]:
    """Customers with a real argon2 hash (one hash, shared: they all have the same password)."""
    if count == 0:
        return []
    settings = get_settings()
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib, parallelism=1
    )
    password_hash = hasher.hash(LOGIN_PASSWORD)
    rows = await pool.fetch(
        """INSERT INTO users (role, name, email, password_hash)
           SELECT 'customer', 'Storm ' || n, 'storm-' || n || '-' || $2 || '@example.com', $1
             FROM generate_series(1, $3) n RETURNING email""",
        password_hash,
        uuid.uuid4().hex[:12],
        count,
    )
    return [r["email"] for r in rows]


# --- the API ----------------------------------------------------------------------------


def open_sale(host: str, token: str, event_id: int, args: argparse.Namespace, room: bool) -> None:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "starts_at": (now + timedelta(seconds=args.opens_in) - timedelta(seconds=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
        "hold_seconds": args.hold_seconds,
        "max_tickets_per_customer": args.limit,
        "waiting_room": {
            "enabled": room,
            "admit_per_minute": args.admit_per_minute,
            "max_active": args.max_active,
        },
    }
    request = urllib.request.Request(
        f"{host}/events/{event_id}/sale",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        if response.status != 200:
            raise RuntimeError(f"PUT /events/{event_id}/sale: {response.status}")


# --- the whole set-up -------------------------------------------------------------------


async def build(args: argparse.Namespace) -> Plan:
    settings = get_settings()
    secret = settings.jwt_secret
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    try:
        partners: list[PlanPartner] = []
        bar = Progress("partners", args.partners)
        for n in range(args.partners):
            partner_id = await create_partner(pool, f"Load Partner {n + 1}")
            staff_id = await create_staff(pool, partner_id)
            partners.append(
                PlanPartner(
                    partner_id,
                    issue_access_token(
                        Principal(partner_id, "partner", partner_id), secret, TOKEN_TTL_SECONDS
                    ),
                    staff_id,
                    issue_access_token(
                        Principal(staff_id, "staff", partner_id), secret, TOKEN_TTL_SECONDS
                    ),
                )
            )
            bar.advance()

        customers: list[int] = []
        bar = Progress("customers", args.customers)
        while len(customers) < args.customers:
            batch = await create_customers(pool, min(CHUNK, args.customers - len(customers)))
            customers.extend(batch)
            bar.advance(len(batch))
        tokens: list[tuple[int, str]] = []
        bar = Progress("tokens", len(customers))
        for customer_id in customers:
            principal = Principal(customer_id, "customer")
            tokens.append((customer_id, issue_access_token(principal, secret, TOKEN_TTL_SECONDS)))
            bar.advance()

        bar = Progress("login users", max(args.login_users, 1))
        login_users = await create_login_users(pool, args.login_users)
        bar.advance(max(args.login_users, 1))

        events: list[PlanEvent] = []
        specs: list[EventSpec] = args.event
        bar = Progress("inventory", sum(s.capacity if s.kind == "seated" else 1 for s in specs))
        for index, spec in enumerate(specs):
            owner = index % len(partners)
            event_id = await create_event(pool, partners[owner].id, index, spec)
            event = PlanEvent(event_id, spec.kind, spec.capacity, spec.waiting_room, owner)
            if spec.kind == "seated":
                event.seat_ids = await create_seats(pool, event_id, spec.capacity, bar)
            else:
                event.ticket_type_ids = [await create_ticket_type(pool, event_id, spec.capacity)]
                bar.advance()
            events.append(event)
    finally:
        await pool.close()

    bar = Progress("open sales", len(events))
    for event in events:
        open_sale(args.host, partners[event.partner].token, event.id, args, event.waiting_room)
        bar.advance()
    return Plan(
        host=args.host,
        created_at=datetime.now(UTC).isoformat(),
        hold_seconds=args.hold_seconds,
        max_tickets_per_customer=args.limit,
        partners=partners,
        events=events,
        customers=tokens,
        login_users=login_users,
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtests.setup", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--host", required=True, help="base URL of the API, e.g. http://127.0.0.1:8000")
    p.add_argument("--plan", type=Path, default=Path(".data/loadtest-plan.json"))
    p.add_argument("--customers", type=int, default=1000)
    p.add_argument("--login-users", type=int, default=200)
    p.add_argument("--partners", type=int, default=2)
    p.add_argument(
        "--event",
        type=EventSpec.parse,
        action="append",
        help="KIND:CAPACITY[:room], repeatable; default seated:200 and ga:400:room",
    )
    p.add_argument("--hold-seconds", type=int, default=20)
    p.add_argument("--limit", type=int, default=6, help="max tickets per customer and event")
    p.add_argument("--admit-per-minute", type=int, default=6000)
    p.add_argument("--max-active", type=int, default=500)
    p.add_argument("--opens-in", type=float, default=0.0, help="seconds until the sales open")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if not args.event:
        args.event = [EventSpec("seated", 200, False), EventSpec("ga", 400, True)]
    started = time.monotonic()
    plan = asyncio.run(build(args))
    plan.write(args.plan)
    capacity = sum(e.capacity for e in plan.events)
    sys.stderr.write(
        f"set-up done in {time.monotonic() - started:.1f}s: {len(plan.events)} events "
        f"({capacity:,} tickets), {len(plan.customers):,} customers, "
        f"{len(plan.login_users)} login users -> {args.plan}\n"
    )


if __name__ == "__main__":
    main()
