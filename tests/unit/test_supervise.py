"""The launcher's restart policy, without processes: backoff and what is logged."""

from __future__ import annotations

import logging

import pytest

from ops.supervise import Backoff, RestartFailed, Supervised, Supervisor, describe_exit


def test_backoff_doubles_to_its_cap_and_starts_over_after_a_stable_run() -> None:
    backoff = Backoff(first_s=0.5, max_s=30.0, stable_s=10.0)
    delays = [backoff.delay_after(uptime_s=1.0) for _ in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff.delay_after(uptime_s=10.0) == 0.5
    assert backoff.delay_after(uptime_s=0.1) == 1.0


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(None) is None
    assert describe_exit(0) == "exit code 0"
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-9) == "killed by SIGKILL"


def test_an_exited_process_is_started_again_when_its_delay_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    pids = iter([11, 12])
    state: dict[str, str | None] = {"exit": None}
    supervisor = Supervisor(clock=lambda: now[0])
    worker = Supervised("worker", start=lambda: next(pids), exited=lambda: state["exit"])
    with caplog.at_level(logging.INFO, logger="boxoffice.stack"):
        supervisor.launch(worker)
        state["exit"] = "killed by SIGKILL"
        now[0] += 1.0
        supervisor.check()
        assert worker.pid == 11 and worker.restart_at == 101.5
        state["exit"] = None
        now[0] += 0.4
        supervisor.check()
        assert worker.pid == 11  # not yet
        now[0] += 0.1
        supervisor.check()
    assert worker.pid == 12 and worker.restart_at is None
    assert [r.getMessage() for r in caplog.records] == [
        "worker started (pid 11)",
        "worker (pid 11) exited: killed by SIGKILL; restarting in 0.5s",
        "worker restarted (pid 12)",
    ]


def test_a_start_that_fails_stops_the_supervisor() -> None:
    def broken() -> int:
        raise RuntimeError("port in use")

    with pytest.raises(RestartFailed, match="valkey could not be started: port in use"):
        Supervisor().launch(Supervised("valkey", start=broken, exited=lambda: None))
