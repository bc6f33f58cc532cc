"""The sell-out race of `make bench`: a pool of 1,000 GA units, a fresh one each round, and
N buyers each looping claim one unit, pay it, until the pool is sold out
(loadtests/soldout_load.py, in its own process). What counts is how long the pool takes to sell
out end to end, and that nothing is sold beyond it: `oversold` compares the payments the API
accepted and the units Redis has sold with the pool."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, cast

from engine import keys
from engine.store.resources import Resources
from loadtests.bench_stack import run_load_module
from loadtests.setup_data import OnSale, open_sale

POOL_UNITS = 1_000


@dataclass
class SoldoutRun:
    """One race size: its figures' suffix, its buyers, and a fresh pool for each round."""

    name: str
    clients: int
    tokens: list[str]
    sales: list[OnSale] = field(default_factory=list)


async def soldout_runs(
    resources: Resources, partner: int, tokens: list[str], rounds: int, sizes: tuple[int, ...]
) -> list[SoldoutRun]:
    """A race of each size, with a pool for its warm-up and for each of its rounds."""
    runs = []
    for clients in sizes:
        run = SoldoutRun(f"soldout_{clients}", clients, tokens[:clients])
        for _ in range(rounds + 1):
            # no customer limit in the way: 32 buyers take ~31 units each
            run.sales.append(
                await open_sale(resources, partner, pools=(POOL_UNITS,), limit=POOL_UNITS)
            )
        runs.append(run)
    return runs


def soldout_race(port: int, sale: OnSale, tokens: list[str]) -> dict[str, Any]:
    """One race in loadtests/soldout_load.py's own process; its JSON summary."""
    return run_load_module(
        "loadtests.soldout_load",
        tokens,
        "--tokens",
        *("--port", str(port), "--pool", str(sale.pool_ids[0]), "--clients", str(len(tokens))),
    )


async def oversold(resources: Resources, sale: OnSale, paid: int, units: int = POOL_UNITS) -> int:
    """Units sold beyond the pool of `units`, by the API's answers or by Redis' own counts."""
    pool = sale.pool_ids[0]
    # redis-py types its asyncio commands as `Awaitable[T] | T`
    asked = resources.redis.hget(keys.event_key(sale.event_id, "pools"), f"{pool}:s")
    sold = await cast(Awaitable[bytes | None], asked)
    return max(0, paid - units, int(sold or 0) - units)
