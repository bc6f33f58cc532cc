"""Events on sale for sale-engine tests: the same fast set-up the benchmarks use."""

from __future__ import annotations

from typing import Any

from loadtests.setup_data import OnSale, open_sale

__all__ = ["OnSale", "open_sale", "seat_item"]


def seat_item(sale: OnSale, *seat_ids: int) -> dict[str, Any]:
    return {"event_id": sale.event_id, "seat_ids": list(seat_ids)}
