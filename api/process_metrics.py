"""One /metrics for all of the API's processes (uvicorn's WEB_CONCURRENCY workers).

Each process counts what it answers, so with several of them a scrape, answered by whichever
process the connection reached, would show that process's share. prometheus_client's
multiprocess mode keeps every process's values in files in one folder, named by
PROMETHEUS_MULTIPROC_DIR; the variable must be set before a process imports
prometheus_client, so the launcher sets it (`launch_environment`: ops/stack.py, the test
harness), and /metrics then adds up the folder's files (`exposition`). Counters and
histograms are summed over the processes, live and exited; the sale's gauges, set from Redis
at each scrape, show the latest value written (`multiprocess_mode="mostrecent"`,
api/business_metrics.py). With one process none of this is used.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def launch_environment(folder: Path, processes: int) -> dict[str, str]:
    """What a launcher adds to the API's environment for `processes` uvicorn workers: with
    more than one, the folder of their metrics files, emptied (a new start counts anew)."""
    if processes <= 1:
        return {}
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return {FOLDER_VARIABLE: str(folder)}


def shared() -> bool:
    """Whether this process writes its metrics to the shared folder."""
    return bool(os.environ.get(FOLDER_VARIABLE))


def exposition() -> bytes:
    """Every process's metrics, added up, in Prometheus' text format."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def process_exited(pid: int) -> None:
    """Drop the exited process's live gauges (its counters keep counting in the totals)."""
    if shared():
        mark_process_dead(pid)  # type: ignore[no-untyped-call]
