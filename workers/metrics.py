"""The worker's Prometheus metrics, served on its own port (WORKER_METRICS_PORT, 9101 by
default; 0: not served), for Prometheus to scrape beside the API's /metrics.

- `boxoffice_worker_jobs_total{function, result}`: ARQ jobs run, by how they ended;
- `boxoffice_persist_batch_orders`: orders per batch written to PostgreSQL;
- `boxoffice_persistence_lag_seconds`: from an order's payment to its completion (written
  to PostgreSQL, tickets issued), per order;
- `boxoffice_reconcile_drift_total{kind}`: drift the reconcile cron found and repaired;
- `boxoffice_dead_letters_total{reason}` (workers/tasks.py): orders made dead letters.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter, Histogram, start_http_server

log = logging.getLogger("boxoffice.worker")

JOBS = Counter(
    "boxoffice_worker_jobs_total", "ARQ jobs run by this worker, by result", ["function", "result"]
)
BATCH_ORDERS = Histogram(
    "boxoffice_persist_batch_orders",
    "Orders per batch the worker wrote to PostgreSQL",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
PERSISTENCE_LAG = Histogram(
    "boxoffice_persistence_lag_seconds",
    "Seconds from an order's payment to its completion (in PostgreSQL, tickets issued)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)
RECONCILE_DRIFT = Counter(
    "boxoffice_reconcile_drift_total",
    "Drift the reconcile cron found between Redis and PostgreSQL and repaired, by kind",
    ["kind"],
)
DRIFT_KINDS = (
    "events_with_drift",
    "events_not_in_redis",
    "seats_sold_in_pg_not_in_redis",
    "pool_units_sold_in_pg_not_in_redis",
    "lost_reservations_expired",
)
for _kind in DRIFT_KINDS:  # every series exists from the start, at 0
    RECONCILE_DRIFT.labels(_kind)


def observe_completed(lags_seconds: list[float]) -> None:
    for lag in lags_seconds:
        PERSISTENCE_LAG.observe(max(0.0, lag))


def count_drift(details: list[dict[str, Any]]) -> None:
    """Count the drift of reconcile's report (engine/reconcile.py `report`)."""
    RECONCILE_DRIFT.labels("events_with_drift").inc(len(details))
    for drift in details:
        if not drift.get("hydrated", True):
            RECONCILE_DRIFT.labels("events_not_in_redis").inc()
        for kind in DRIFT_KINDS[2:]:
            RECONCILE_DRIFT.labels(kind).inc(int(drift.get(kind, 0)))


def serve_metrics(port: int) -> None:
    """Serve this process's metrics on `port` (0: not at all). A port already taken (a
    second worker on the machine) is logged, and the worker goes on without."""
    if port <= 0:
        return
    try:
        start_http_server(port)
    except OSError as exc:
        log.warning("worker metrics not served on port %d: %s", port, exc)
        return
    log.info("worker metrics on port %d", port, extra={"metrics_port": port})
