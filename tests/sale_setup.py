"""Events on sale for sale-engine tests: the same fast set-up the benchmarks use."""

from __future__ import annotations

from typing import Any

from engine.reconcile import Drift, reconcile_event
from engine.store.pg_orders import PgOrderRepair
from engine.store.resources import Resources
from loadtests.setup_data import OnSale, open_sale

__all__ = ["OnSale", "open_sale", "reconcile", "seat_item"]


async def reconcile(resources: Resources, event_id: int, apply: bool = True) -> Drift:
    """The reconciler on one event, as the worker's cron runs it: hydrates it again when
    Redis lost it, and with `apply` repairs drift."""
    return await reconcile_event(
        event_id,
        resources.sale_reads,
        resources.inventory,
        resources.inventory,
        PgOrderRepair(resources.pool),
        apply=apply,
    )


def seat_item(sale: OnSale, *seat_ids: int) -> dict[str, Any]:
    return {"event_id": sale.event_id, "seat_ids": list(seat_ids)}
