"""Drive the sale engine directly (no HTTP), from this process or from worker processes."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from engine import errors
from engine.orders import EventClaim, Orders, requested_items
from engine.principal import Principal
from engine.settings import get_settings, reset_settings
from engine.store.redis_waiting_room import RedisWaitingRoomStore
from engine.store.resources import Resources, open_resources
from engine.waiting_room import RoomPolicy, WaitingRoom
from loadtests.setup_data import create_customers


class RecordingJobQueue:
    """The ARQ boundary, faked: remembers which paid orders were handed to the workers."""

    def __init__(self) -> None:
        self.paid: list[str] = []

    async def persist_paid(self, order_id: str) -> None:
        self.paid.append(order_id)


def engine_orders(resources: Resources, queue: RecordingJobQueue | None = None) -> Orders:
    return Orders(
        resources.sale_store,
        resources.sale_reads,
        resources.order_store,
        queue or RecordingJobQueue(),
    )


async def claim(orders: Orders, customer_id: int, claims: list[EventClaim]) -> str:
    """The order id, or the refusal code."""
    try:
        order = await orders.place(
            Principal(customer_id, "customer"), claims, requested_items(claims)
        )
    except errors.BoxofficeError as exc:
        return exc.code
    return order.id


async def _claims_in_process(jobs: Sequence[tuple[int, list[EventClaim]]]) -> list[str]:
    resources = await open_resources(get_settings(), pool_size=2)
    try:
        orders = engine_orders(resources)
        return list(await asyncio.gather(*(claim(orders, c, cl) for c, cl in jobs)))
    finally:
        await resources.close()


async def pay(orders: Orders, customer_id: int, order_id: str, token: str = "tok_visa") -> str:
    """'paid', or the refusal code."""
    try:
        order = await orders.pay(Principal(customer_id, "customer"), order_id, token)
    except errors.BoxofficeError as exc:
        return exc.code
    return order.status


async def buy(orders: Orders, customer_id: int, claims: list[EventClaim]) -> str:
    """Claim, then pay: the order id once paid, or the refusal code."""
    order_id = await claim(orders, customer_id, claims)
    if "-" not in order_id:
        return order_id
    paid = await pay(orders, customer_id, order_id)
    return order_id if paid == "paid" else paid


async def _buys_in_process(jobs: Sequence[tuple[int, list[EventClaim]]]) -> list[str]:
    resources = await open_resources(get_settings(), pool_size=2)
    try:
        orders = engine_orders(resources)
        return list(await asyncio.gather(*(buy(orders, c, cl) for c, cl in jobs)))
    finally:
        await resources.close()


async def _pays_in_process(jobs: Sequence[tuple[int, str, str]]) -> list[str]:
    resources = await open_resources(get_settings(), pool_size=2)
    try:
        orders = engine_orders(resources)
        return list(await asyncio.gather(*(pay(orders, *job) for job in jobs)))
    finally:
        await resources.close()


def _buy_in_process(env: dict[str, str], jobs: Sequence[tuple[int, list[EventClaim]]]) -> list[str]:
    os.environ.update(env)
    reset_settings()
    return asyncio.run(_buys_in_process(jobs))


def _pay_in_process(env: dict[str, str], jobs: Sequence[tuple[int, str, str]]) -> list[str]:
    os.environ.update(env)
    reset_settings()
    return asyncio.run(_pays_in_process(jobs))


async def buys_from_processes(
    jobs: list[tuple[int, list[EventClaim]]], processes: int = 4
) -> list[str]:
    """Claim and pay concurrently from several OS processes, as separate API servers would."""
    return await _from_processes(_buy_in_process, jobs, processes)


async def pays_from_processes(jobs: list[tuple[int, str, str]], processes: int = 4) -> list[str]:
    """Pay (customer, order id, payment token) concurrently from several OS processes."""
    return await _from_processes(_pay_in_process, jobs, processes)


async def _from_processes(run: Any, jobs: list[Any], processes: int) -> list[str]:
    env = _child_env()
    shares = [jobs[i::processes] for i in range(processes)]
    loop = asyncio.get_running_loop()
    import multiprocessing

    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = await asyncio.gather(
            *(loop.run_in_executor(pool, run, env, share) for share in shares)
        )
    return [result for share in results for result in share]


def _run_in_process(env: dict[str, str], jobs: Sequence[tuple[int, list[EventClaim]]]) -> list[str]:
    os.environ.update(env)
    reset_settings()
    return asyncio.run(_claims_in_process(jobs))


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        ARGON2_MEMORY_KIB="1024",
        LOG_LEVEL="WARNING",
        BOXOFFICE_DATA_DIR=str(get_settings().data_dir),
    )
    return env


async def claims_from_processes(
    jobs: list[tuple[int, list[EventClaim]]], processes: int = 4
) -> list[str]:
    """Run the claims concurrently from several OS processes, as separate API servers would."""
    env = _child_env()
    shares = [jobs[i::processes] for i in range(processes)]
    loop = asyncio.get_running_loop()
    import multiprocessing

    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = await asyncio.gather(
            *(loop.run_in_executor(pool, _run_in_process, env, share) for share in shares)
        )
    return [result for share in results for result in share]


async def _poll_room(event_id: int, customer_ids: Sequence[int], until: float) -> int:
    resources = await open_resources(get_settings(), pool_size=1)
    policy = RoomPolicy(joins_per_address=10**9)
    secret = get_settings().jwt_secret
    room = WaitingRoom(RedisWaitingRoomStore(resources.redis), secret, policy)
    polls = 0
    try:
        while time.time() < until:
            customer = Principal(customer_ids[polls % len(customer_ids)], "customer")
            await room.status(customer, event_id)
            polls += 1
            await asyncio.sleep(0.005)
    finally:
        await resources.close()
    return polls


def _polls_in_process(
    env: dict[str, str], event_id: int, customer_ids: Sequence[int], until: float
) -> int:
    os.environ.update(env)
    reset_settings()
    return asyncio.run(_poll_room(event_id, customer_ids, until))


async def polls_from_processes(
    event_id: int, customer_ids: Sequence[int], until: float, processes: int = 2
) -> list[int]:
    """Poll a waiting room from several OS processes until `until` (unix time), as separate
    API servers would; the number of polls each made."""
    env = _child_env()
    shares = [customer_ids[i::processes] for i in range(processes)]
    loop = asyncio.get_running_loop()
    import multiprocessing

    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(
            await asyncio.gather(
                *(
                    loop.run_in_executor(pool, _polls_in_process, env, event_id, share, until)
                    for share in shares
                )
            )
        )


def counts(values: Any) -> dict[str, int]:
    tally: dict[str, int] = {}
    for value in values:
        key = value if not isinstance(value, str) or "-" not in value else "ok"
        tally[key] = tally.get(key, 0) + 1
    return tally


__all__ = [
    "RecordingJobQueue",
    "buy",
    "buys_from_processes",
    "claim",
    "claims_from_processes",
    "counts",
    "create_customers",
    "engine_orders",
    "pay",
    "pays_from_processes",
    "polls_from_processes",
]
