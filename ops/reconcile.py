"""`python -m ops.reconcile [--dry-run] [--event ID]`: compare Redis with PostgreSQL, report
drift as JSON, and repair it unless --dry-run."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from engine.reconcile import reconcile_all, reconcile_event, report
from engine.settings import get_settings
from engine.store.pg_orders import PgOrderRepair
from engine.store.resources import open_resources


async def main(apply: bool, event_id: int | None) -> int:
    resources = await open_resources(get_settings(), pool_size=2)
    try:
        args = (
            resources.sale_reads,
            resources.inventory,
            resources.inventory,
            PgOrderRepair(resources.pool),
        )
        drifts = (
            [await reconcile_event(event_id, *args, apply=apply)]
            if event_id is not None
            else await reconcile_all(*args, apply=apply)
        )
    finally:
        await resources.close()
    summary = report(drifts)
    print(json.dumps(summary, indent=2))
    return 1 if (summary["with_drift"] and not apply) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="report only, change nothing")
    parser.add_argument("--event", type=int, help="only this event")
    options = parser.parse_args()
    sys.exit(asyncio.run(main(not options.dry_run, options.event)))
