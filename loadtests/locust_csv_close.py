"""Stop Locust's CSV writer quietly once Locust has closed its files.

At shutdown Locust (2.x, locust/main.py `shutdown`) closes the CSV files and then exits,
while the greenlet that rewrites them each second (`StatsCSVFileWriter.stats_writer`) still
runs: when it wakes in between (it does while the forked worker processes are joined), its
next write raises `ValueError: I/O operation on closed file`, logged as a CRITICAL
"Unhandled exception in greenlet" after a run that passed. The files are complete by then
(closing flushes them). This ends that greenlet when its files are closed, and lets any
other error through. Imported by each locustfile, before Locust starts the writer.
"""

from __future__ import annotations

from typing import Any

from locust.stats import StatsCSVFileWriter

_original = StatsCSVFileWriter.stats_writer


def _stats_writer(self: Any) -> None:
    try:
        _original(self)
    except ValueError:
        if not self.requests_csv_filehandle.closed:
            raise


def stop_writing_once_closed() -> None:
    setattr(StatsCSVFileWriter, "stats_writer", _stats_writer)  # noqa: B010 (a method, on purpose)
