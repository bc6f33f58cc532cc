"""An API process that dies right after confirming a payment, before enqueueing the job.

`python -m tests.faults.pay_then_die <order_id> <customer_id>`: exits with status 3 at the
exact point where the persist_order job would be enqueued.
"""

from __future__ import annotations

import asyncio
import os
import sys

from engine.orders import Orders
from engine.principal import Principal
from engine.settings import get_settings
from engine.store.resources import open_resources


class DieBeforeEnqueue:
    async def persist_paid(self, order_id: str) -> None:
        os._exit(3)


async def main(order_id: str, customer_id: int) -> None:
    resources = await open_resources(get_settings(), pool_size=1)
    orders = Orders(
        resources.sale_store, resources.sale_reads, resources.order_store, DieBeforeEnqueue()
    )
    await orders.pay(Principal(customer_id, "customer"), order_id, "tok_visa")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
