"""The sale's figures in /metrics, beside Litestar's HTTP metrics.

- `boxoffice_outcomes_total{action, result}`: claims, payments, cancellations and gate scans
  answered, by result: the success (`reserved`, `paid`, `cancelled`, `admitted`), the
  problem `code` of a refusal (`sold_out`, `payment_declined`, `already_used`, ...),
  `replayed` for an Idempotency-Key replay, `error` for a 5xx. Counted from the answers
  (api/access_log.py), so the hot paths and the documented handlers count alike. Labels are
  bounded: four actions, and the results are the server's own codes.
- per event live in Redis (the events on sale), read at each scrape from the counters the
  sale keeps (engine/store/redis_figures.py): units available, held and sold; the waiting
  room's customers waiting, admitted and shopping; paid orders in the outbox and how long
  the oldest has waited (the persistence lag as PostgreSQL sees it, even with no worker).
  Series of events no longer live are removed, so the labels stay bounded.

The worker's own metrics (jobs, batch sizes, persistence lag per order, reconcile drift,
dead letters) are served on its own port (workers/metrics.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import Counter, Gauge

from engine.store.redis_client import SaleRedis
from engine.store.redis_figures import EventFigures, live_figures

log = logging.getLogger("boxoffice.api")

OUTCOMES = Counter(
    "boxoffice_outcomes_total",
    "Claims, payments, cancellations and gate scans answered, by result",
    ["action", "result"],
)
EVENT_UNITS = Gauge(
    "boxoffice_event_units",
    "Units (seats and general admission) of each live event, by state",
    ["event_id", "state"],
    multiprocess_mode="mostrecent",
)
WAITING_ROOM = Gauge(
    "boxoffice_waiting_room_customers",
    "Customers in each live event's waiting room: waiting, admitted, active (shopping)",
    ["event_id", "state"],
    multiprocess_mode="mostrecent",
)
OUTBOX = Gauge(
    "boxoffice_outbox_orders",
    "Paid orders of each live event not yet written to PostgreSQL",
    ["event_id"],
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST = Gauge(
    "boxoffice_outbox_oldest_seconds",
    "Seconds since the longest-waiting paid order of each live event was paid (0: none)",
    ["event_id"],
    multiprocess_mode="mostrecent",
)
LIVE_EVENTS = Gauge(
    "boxoffice_live_events", "Events live in Redis (on sale)", multiprocess_mode="mostrecent"
)

_live: set[int] = set()


async def refresh_live_figures(redis: SaleRedis) -> None:
    """Set the per-event gauges from Redis (a scrape is not a hot path); when Redis does not
    answer within a second, the last figures stay."""
    try:
        async with asyncio.timeout(1):
            now_ms, figures = await live_figures(redis)
    except Exception as exc:
        log.warning("live figures not read: %r", exc)
        return
    for event_id in _live - set(figures):
        _forget(event_id)
    for event_id, event in figures.items():
        _show(str(event_id), event, now_ms)
    _live.clear()
    _live.update(figures)
    LIVE_EVENTS.set(len(figures))


def _show(event_id: str, event: EventFigures, now_ms: int) -> None:
    for state, units in (
        ("available", event.available),
        ("held", event.held),
        ("sold", event.sold),
    ):
        EVENT_UNITS.labels(event_id, state).set(units)
    for state, customers in (
        ("waiting", event.waiting),
        ("admitted", event.admitted),
        ("active", event.active),
    ):
        WAITING_ROOM.labels(event_id, state).set(customers)
    OUTBOX.labels(event_id).set(event.outbox)
    oldest = event.oldest_paid_ms
    OUTBOX_OLDEST.labels(event_id).set(0 if oldest is None else max(0, now_ms - oldest) / 1000)


def _forget(event_id: int) -> None:
    label = str(event_id)
    for state in ("available", "held", "sold"):
        EVENT_UNITS.remove(label, state)
    for state in ("waiting", "admitted", "active"):
        WAITING_ROOM.remove(label, state)
    OUTBOX.remove(label)
    OUTBOX_OLDEST.remove(label)


_outcome_children: dict[tuple[str, str], Any] = {}


def count_outcome(action: str, result: str) -> None:
    """One more answer of `action` with `result`; the labelled child is looked up once (a
    claim counts on every request, and `labels()` takes a lock)."""
    child = _outcome_children.get((action, result))
    if child is None:
        child = _outcome_children[(action, result)] = OUTCOMES.labels(action, result)
    child.inc()
