"""The load test's CPU account: roles from command lines, shares of a core from samples."""

from __future__ import annotations

from loadtests.cpu_sampler import CpuSampler, role_of


def test_roles_from_command_lines() -> None:
    assert role_of("python -m uvicorn api.app:create_app --factory") == "api"
    assert role_of("python -m workers") == "workers"
    assert role_of("python -m locust -f loadtests/locustfile.py") == "locust"
    assert role_of("valkey-server 127.0.0.1:6380") == "redis"
    assert role_of("postgres: postgres bx_loadtest [local] idle") == "postgres"
    assert role_of("python -m loadtests.run_loadtest --profile small") == "harness"
    assert role_of("pytest tests") == "other"


def test_shares_count_each_process_from_first_sight() -> None:
    sampler = CpuSampler()
    sampler.samples = [
        (0.0, {1: ("api", 10.0), 2: ("locust", 5.0)}),
        (1.0, {1: ("api", 10.5), 2: ("locust", 6.0), 3: ("workers", 0.2)}),
        (2.0, {1: ("api", 11.5), 3: ("workers", 0.4)}),  # Locust ended: its last second lost
    ]
    assert sampler.shares() == {"api": 0.75, "locust": 0.5, "workers": 0.2}
