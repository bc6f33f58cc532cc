"""The gate's two scan paths side by side, in one process: `python -m loadtests.bench_gate_paths`.

On a private stack (loadtests/bench_stack.py), 64 concurrent scanners call `Gate.validate`
(no HTTP) for distinct genuine codes of one live event, through PostgreSQL (the guarded
UPDATE an event not in Redis gets) and through Redis (lua/scan.lua, what a live event
gets), taking turns three times so a slow spell of a shared machine weighs on both alike.
Each turn also scans 2,000 of its codes again (already_used). Prints scans per second and
this process's CPU time per scan (what one API process spends; steadier than the rate on a
shared machine, though it leaves out the servers' own work).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop

from engine.gate import Gate
from engine.principal import Principal
from engine.settings import get_settings
from engine.store.pg_tickets import PgTicketStore
from engine.store.resources import open_resources
from loadtests.bench_gate import issue
from loadtests.bench_stack import BenchStack
from loadtests.setup_data import create_partner

SCANNERS = 64
ROUNDS = 3


async def scan_all(
    gate: Gate, scanner: Principal, codes: list[str]
) -> tuple[float, float, set[str]]:
    """Scans per second, this process's CPU microseconds per scan, and the results seen."""
    remaining = iter(codes)
    seen: set[str] = set()

    async def one_gate() -> None:
        for code in remaining:
            seen.add((await gate.validate(scanner, code, "bench")).result)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one_gate() for _ in range(SCANNERS)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return len(codes) / elapsed, cpu / len(codes) * 1e6, seen


async def compare(per_turn: int) -> None:
    resources = await open_resources(get_settings(), pool_size=8)
    try:
        partner = await create_partner(resources.pool)
        codes = await issue(resources, partner, per_turn * 2 * ROUNDS + 500)
        keys = resources.gate_keys()
        gates = {
            "postgresql": Gate(PgTicketStore(resources.pool), keys),
            "redis": Gate(
                resources.ticket_store, keys, resources.live_tickets, resources.ticket_loader
            ),
        }
        scanner = Principal(partner, "partner", partner)
        await scan_all(gates["redis"], scanner, codes[-500:])  # warm-up: keys, connections
        turn = 0
        for round_no in range(ROUNDS):
            for name, gate in gates.items():
                chunk = codes[turn * per_turn : (turn + 1) * per_turn]
                turn += 1
                first, first_cpu, first_seen = await scan_all(gate, scanner, chunk)
                again, again_cpu, again_seen = await scan_all(gate, scanner, chunk[:2000])
                assert first_seen == {"admitted"} and again_seen == {"already_used"}
                print(
                    f"round {round_no} {name:10}  admitted {first:7.0f}/s {first_cpu:4.0f} us"
                    f"  already_used {again:7.0f}/s {again_cpu:4.0f} us",
                    flush=True,
                )
    finally:
        await resources.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-turn", type=int, default=3500, help="codes admitted per turn")
    args = parser.parse_args()
    uvloop.install()
    stack = BenchStack("bench-gate-paths")
    stack.start()
    try:
        asyncio.run(compare(args.per_turn))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
