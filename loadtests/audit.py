"""The load test's audit: after the run, hold the sale engine to its invariants.

Checks, for the events of the plan (each one a breach when it fails):
- nothing sold twice: a seat with two live tickets in PostgreSQL or two sold parts in Redis,
  a seat PostgreSQL sold to one order and Redis to another, a ticket type with more live
  tickets or sold units than its quantity (each extra unit counts in `oversold`);
- sold + held + available = capacity: Redis's counts, and a recount from the seat marks and
  ticket-type counters, agree with each other and with the capacity set up;
- every paid order completed: none left `paid` in PostgreSQL or Redis, every order the clients
  paid is `completed` with one ticket per line, declined ones `payment_failed`, abandoned
  carts never paid; Redis's sold units equal PostgreSQL's live tickets;
- Redis equal to PostgreSQL: engine.reconcile.reconcile_event (apply=False) finds no drift;
- every refusal recorded: per reason, the refusals clients were given equal the
  purchase_refusals rows (after the workers drained the Redis streams);
- every ticket the gate admitted is `used`, and no other;
- no 5xx and no request left unanswered;
- no unexpected answer from the waiting room (a join or poll answered, say, 404 not_found);
  unexpected answers of other requests are listed in the facts (Locust counts them as failures,
  held to the error-ratio threshold).

Run it after the workers drained (`wait_drained`); `audit` only reads.
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import asyncpg

from engine import keys
from engine.reconcile import reconcile_event
from engine.store.lua_json import decode_document
from engine.store.pg_orders import PgOrderRepair
from engine.store.redis_client import SaleRedis
from engine.store.resources import Resources
from loadtests.setup import PlanEvent


@dataclass
class ClientTotals:
    """What the Locust processes saw, summed over their `client-<pid>.json` files."""

    refusals: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)  # "<request>: <status> <code>"
    paid: list[str] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    processes: int = 0


def read_client_records(directory: Path) -> ClientTotals:
    totals = ClientTotals()
    for path in sorted(directory.glob("client-*.json")):
        record = json.loads(path.read_text())
        totals.refusals.update(record["refusals"])
        totals.counts.update(record["counts"])
        totals.unexpected.update(record.get("unexpected", {}))
        totals.paid += record["orders"]["paid"]
        totals.declined += record["orders"]["declined"]
        totals.abandoned += record["orders"]["abandoned"]
        totals.processes += 1
    return totals


@dataclass
class AuditResult:
    oversold: int = 0
    breaches: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.breaches and self.oversold == 0

    def breach(self, text: str) -> None:
        self.breaches.append(text)


# --- draining ---------------------------------------------------------------------------


async def pending_work(redis: SaleRedis, event_ids: list[int]) -> dict[str, int]:
    """What the workers still have to do: paid orders to persist, changes, refusals and gate
    scans to write, holds to expire."""
    async with redis.pipeline(transaction=False) as pipe:
        for event_id in event_ids:
            pipe.zcard(keys.event_key(event_id, "outbox"))
            pipe.zcard(keys.event_key(event_id, "changes"))
            pipe.xlen(keys.event_key(event_id, "refusals"))
            pipe.xlen(keys.event_key(event_id, "scans"))
            pipe.zcard(keys.event_key(event_id, "holds"))
        replies = await pipe.execute()
    names = (
        "paid not persisted",
        "changes not written",
        "refusals not written",
        "scans not written",
        "holds",
    )
    pending = dict.fromkeys(names, 0)
    for index, value in enumerate(replies):
        pending[names[index % len(names)]] += int(value)
    return pending


async def wait_drained(
    redis: SaleRedis, event_ids: list[int], within_s: float, include_holds: bool = True
) -> dict[str, int]:
    """Wait until the workers have nothing left to do; return what is left (empty if done)."""
    deadline = time.monotonic() + within_s
    while True:
        pending = await pending_work(redis, event_ids)
        if not include_holds:
            pending.pop("holds")
        left = {name: count for name, count in pending.items() if count}
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


# --- the checks -------------------------------------------------------------------------


async def check_postgres_sold_once(pool: asyncpg.Pool, ids: list[int], result: AuditResult) -> None:
    seats = await pool.fetch(
        """SELECT seat_id, count(*) AS n FROM tickets
            WHERE event_id = ANY($1) AND seat_id IS NOT NULL AND status <> 'void'
            GROUP BY seat_id HAVING count(*) > 1""",
        ids,
    )
    for row in seats:
        result.oversold += row["n"] - 1
        result.breach(f"seat {row['seat_id']} has {row['n']} live tickets in PostgreSQL")
    pools = await pool.fetch(
        """SELECT tt.id, tt.quantity,
                  count(t.id) FILTER (WHERE t.status <> 'void') AS sold
             FROM ticket_types tt LEFT JOIN tickets t ON t.ticket_type_id = tt.id
            WHERE tt.event_id = ANY($1) GROUP BY tt.id, tt.quantity""",
        ids,
    )
    for row in pools:
        if row["sold"] > row["quantity"]:
            result.oversold += row["sold"] - row["quantity"]
            result.breach(
                f"ticket type {row['id']}: {row['sold']} live tickets for {row['quantity']}"
            )


async def redis_state(
    redis: SaleRedis, event_id: int
) -> tuple[dict[str, str], dict[str, int], dict[str, dict[str, Any]], dict[str, int]]:
    """Seat marks, ticket-type counters, parts by order, and counts of one event."""
    async with redis.pipeline(transaction=False) as pipe:
        for name in ("seats", "pools", "parts", "counts"):
            pipe.hgetall(keys.event_key(event_id, name))
        seats, pools, parts, counts = await pipe.execute()
    return (
        {k.decode(): v.decode() for k, v in seats.items()},
        {k.decode(): int(v) for k, v in pools.items() if k.decode()[-2:] in (":a", ":h", ":s")},
        {k.decode(): json.loads(v) for k, v in parts.items()},
        {k.decode(): int(v) for k, v in counts.items()},
    )


def check_redis_event(
    event: PlanEvent,
    marks: dict[str, str],
    pools: dict[str, int],
    parts: dict[str, dict[str, Any]],
    counts: dict[str, int],
    pool_quantity: dict[str, int],
    result: AuditResult,
) -> None:
    """Sold once, and the three ways of counting agree with capacity, in Redis."""
    owners: dict[str, list[str]] = {}
    pool_sold: Counter[str] = Counter()
    for order_id, part in parts.items():
        for seat in part.get("s", []):
            owners.setdefault(str(seat), []).append(order_id)
        if part.get("st") == "sold":
            for type_id, quantity in part.get("g", []):
                pool_sold[str(type_id)] += int(quantity)
    for seat, orders in owners.items():
        sold = [o for o in orders if parts[o].get("st") == "sold"]
        if len(sold) > 1:
            result.oversold += len(sold) - 1
            result.breach(f"event {event.id} seat {seat} sold to {len(sold)} orders in Redis")
        elif len(orders) > 1:
            result.breach(f"event {event.id} seat {seat} claimed by {len(orders)} orders in Redis")
        if sold and marks.get(seat) != f"s:{sold[0]}":
            result.breach(f"event {event.id} seat {seat}: mark {marks.get(seat)} but sold part")
    for seat, mark in marks.items():
        if mark != "a" and mark[2:] not in owners.get(seat, []):
            result.breach(f"event {event.id} seat {seat} marked {mark} with no such part")
    for type_id, quantity in pool_quantity.items():
        a, h, s = (pools.get(f"{type_id}:{x}", 0) for x in "ahs")
        if s > quantity or pool_sold[type_id] > quantity:
            result.oversold += max(s, pool_sold[type_id]) - quantity
            result.breach(f"ticket type {type_id}: {s} sold in Redis for {quantity}")
        if a + h + s != quantity or min(a, h, s) < 0:
            result.breach(f"ticket type {type_id}: a={a} h={h} s={s} for quantity {quantity}")
        if s != pool_sold[type_id]:
            result.breach(
                f"ticket type {type_id}: {s} sold, but sold parts hold {pool_sold[type_id]}"
            )
    recount = Counter(mark[:1] for mark in marks.values())
    for type_id in pool_quantity:
        for x in "ahs":
            recount[x] += pools.get(f"{type_id}:{x}", 0)
    live = {x: counts.get(x, 0) for x in "ahs"}
    if sum(live.values()) != event.capacity:
        result.breach(
            f"event {event.id}: sold + held + available = {sum(live.values())} "
            f"!= capacity {event.capacity}"
        )
    if live != {x: recount[x] for x in "ahs"}:
        result.breach(f"event {event.id}: counts {live} but a recount gives {dict(recount)}")


async def check_event(resources: Resources, event: PlanEvent, result: AuditResult) -> None:
    pool = resources.pool
    pg_capacity = await pool.fetchval(
        """SELECT (SELECT count(*) FROM seats WHERE event_id = $1)
                + (SELECT coalesce(sum(quantity), 0) FROM ticket_types WHERE event_id = $1)""",
        event.id,
    )
    if pg_capacity != event.capacity:
        result.breach(f"event {event.id}: PostgreSQL capacity {pg_capacity} != {event.capacity}")
    quantities = {
        str(r["id"]): r["quantity"]
        for r in await pool.fetch(
            "SELECT id, quantity FROM ticket_types WHERE event_id = $1", event.id
        )
    }
    marks, pools, parts, counts = await redis_state(resources.redis, event.id)
    check_redis_event(event, marks, pools, parts, counts, quantities, result)

    # a seat sold in PostgreSQL to one order and in Redis to another is sold twice
    for row in await pool.fetch(
        """SELECT seat_id, order_id FROM tickets
            WHERE event_id = $1 AND seat_id IS NOT NULL AND status <> 'void'""",
        event.id,
    ):
        mark = marks.get(str(row["seat_id"]), "")
        if mark.startswith("s:") and mark[2:] != row["order_id"]:
            result.oversold += 1
            result.breach(f"seat {row['seat_id']}: PostgreSQL {row['order_id']}, Redis {mark[2:]}")
    pg_sold = await pool.fetchval(
        "SELECT count(*) FROM tickets WHERE event_id = $1 AND status <> 'void'", event.id
    )
    if pg_sold != counts.get("s", 0):
        result.breach(f"event {event.id}: Redis sold {counts.get('s', 0)}, PostgreSQL {pg_sold}")
    drift = await reconcile_event(
        event.id,
        resources.sale_reads,
        resources.inventory,
        resources.inventory,
        PgOrderRepair(pool),
        apply=False,
    )
    if drift.seats_sold_in_pg_not_in_redis or drift.pool_units_sold_in_pg_not_in_redis:
        result.breach(f"event {event.id}: reconcile finds sold drift {drift}")
    if not drift.hydrated or drift.lost_reservations_expired:
        result.breach(f"event {event.id}: reconcile finds {drift}")
    result.facts.setdefault("events", {})[event.id] = {
        "kind": event.kind,
        "capacity": event.capacity,
        "available": counts.get("a", 0),
        "held": counts.get("h", 0),
        "sold": counts.get("s", 0),
        "tickets_in_postgresql": pg_sold,
    }


async def check_orders(
    resources: Resources, ids: list[int], client: ClientTotals, result: AuditResult
) -> None:
    pool = resources.pool
    patterns = [f"{event_id}-%" for event_id in ids]
    statuses = {
        r["status"]: r["n"]
        for r in await pool.fetch(
            "SELECT status, count(*) AS n FROM orders WHERE id LIKE ANY($1) GROUP BY status",
            patterns,
        )
    }
    result.facts["orders_by_status"] = statuses
    if statuses.get("paid"):
        result.breach(f"{statuses['paid']} orders still paid, not completed, in PostgreSQL")
    for event_id in ids:
        documents = resources.redis.hvals(keys.event_key(event_id, "orders"))
        for raw in await cast(Awaitable[list[bytes]], documents):
            if decode_document(raw).status == "paid":
                result.breach(f"order of event {event_id} still paid in Redis")
    found = {
        r["id"]: (r["status"], r["lines"], r["tickets"])
        for r in await pool.fetch(
            """SELECT o.id, o.status,
                      (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id) AS lines,
                      (SELECT count(*) FROM tickets t WHERE t.order_id = o.id) AS tickets
                 FROM orders o WHERE o.id = ANY($1)""",
            client.paid + client.declined + client.abandoned,
        )
    }
    expected = [(client.paid, {"completed"}), (client.declined, {"payment_failed"})]
    expected.append((client.abandoned, {"expired", "reserved"}))
    for order_ids, allowed in expected:
        wrong = [o for o in order_ids if found.get(o, ("missing",))[0] not in allowed]
        if wrong:
            states = Counter(found.get(o, ("missing",))[0] for o in wrong)
            result.breach(f"{len(wrong)} orders not {'/'.join(sorted(allowed))}: {dict(states)}")
    short = [o for o in client.paid if o in found and found[o][2] != found[o][1]]
    if short:
        result.breach(f"{len(short)} paid orders without one ticket per line, e.g. {short[0]}")


async def check_refusals(
    pool: asyncpg.Pool, ids: list[int], client: ClientTotals, result: AuditResult
) -> None:
    recorded = {
        r["reason"]: r["n"]
        for r in await pool.fetch(
            """SELECT reason, count(*) AS n FROM purchase_refusals WHERE event_id = ANY($1)
                GROUP BY reason""",
            ids,
        )
    }
    result.facts["refusals"] = {
        reason: {"clients": client.refusals.get(reason, 0), "postgresql": recorded.get(reason, 0)}
        for reason in sorted(set(recorded) | set(client.refusals))
    }
    for reason, seen in result.facts["refusals"].items():
        if seen["clients"] != seen["postgresql"]:
            result.breach(
                f"refusals '{reason}': clients were told {seen['clients']}, "
                f"PostgreSQL recorded {seen['postgresql']}"
            )


async def check_gate(
    pool: asyncpg.Pool, ids: list[int], client: ClientTotals, result: AuditResult
) -> None:
    used = await pool.fetchval(
        "SELECT count(*) FROM tickets WHERE event_id = ANY($1) AND status = 'used'", ids
    )
    admitted = client.counts.get("scan admitted", 0)
    result.facts["gate"] = {"admitted": admitted, "used_in_postgresql": used}
    if used != admitted:
        result.breach(f"gate admitted {admitted} tickets, PostgreSQL has {used} used")


QUEUE_REQUESTS = ("POST /events/{id}/queue:", "GET /events/{id}/queue:")


def check_client(client: ClientTotals, result: AuditResult) -> None:
    if client.processes == 0:
        result.breach("no client record: the Locust processes wrote nothing")
    if client.counts.get("http_5xx"):
        result.breach(f"{client.counts['http_5xx']} responses were 5xx")
    for name, count in client.counts.items():
        if name.startswith("unanswered"):
            result.breach(f"{count} requests got no response: {name.removeprefix('unanswered ')}")
    if client.unexpected:
        result.facts["unexpected"] = dict(client.unexpected)
    for answer, count in sorted(client.unexpected.items()):
        if answer.startswith(QUEUE_REQUESTS):
            result.breach(f"{count} unexpected answers from the waiting room: {answer}")


async def audit(resources: Resources, events: list[PlanEvent], client: ClientTotals) -> AuditResult:
    result = AuditResult()
    ids = [event.id for event in events]
    await check_postgres_sold_once(resources.pool, ids, result)
    for event in events:
        await check_event(resources, event, result)
    await check_orders(resources, ids, client, result)
    await check_refusals(resources.pool, ids, client, result)
    await check_gate(resources.pool, ids, client, result)
    check_client(client, result)
    return result


# --- thresholds on Locust's statistics ----------------------------------------------------


@dataclass
class Thresholds:
    """Documented pass marks: see README (load tests)."""

    max_error_ratio: float = 0.01  # failures / requests; expected refusals are not failures
    max_claim_p95_ms: float = 500.0


def locust_figures(stats_csv: Path) -> dict[str, Any]:
    rows = list(csv.DictReader(stats_csv.open()))
    by_name = {row["Name"]: row for row in rows if row["Type"] != ""}
    total = next(row for row in rows if row["Name"] == "Aggregated")
    claims = [row for name, row in by_name.items() if name.startswith("POST /orders [")]
    claim_requests = sum(int(r["Request Count"]) for r in claims)
    return {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "requests_per_s": float(total["Requests/s"]),
        "p50_ms": float(total["50%"] or 0),
        "p95_ms": float(total["95%"] or 0),
        "claims": claim_requests,
        # the slower of seat and general-admission claims: both must meet the mark
        "claim_p95_ms": max((float(r["95%"] or 0) for r in claims), default=0.0),
        "claim_p50_ms": max((float(r["50%"] or 0) for r in claims), default=0.0),
    }


def check_thresholds(figures: dict[str, Any], marks: Thresholds, result: AuditResult) -> None:
    ratio = figures["failures"] / max(figures["requests"], 1)
    figures["error_ratio"] = round(ratio, 5)
    if ratio > marks.max_error_ratio:
        result.breach(f"error ratio {ratio:.4f} above {marks.max_error_ratio}")
    if figures["claims"] == 0:
        result.breach("no claim was made")
    elif figures["claim_p95_ms"] > marks.max_claim_p95_ms:
        result.breach(
            f"p95 claim latency {figures['claim_p95_ms']:.0f} ms "
            f"above {marks.max_claim_p95_ms:.0f} ms"
        )
