"""What the seat map's live status costs: `python -m loadtests.bench_seat_map --redis-url URL`.

A seat map page asks every two seconds which seats are held or sold. The answer is one HGETALL
of the event's seat hash (engine/store/redis_inventory.py `seat_marks`) decoded into the held
and sold lists (engine/seat_map.py), made at most once a second per API process however many
pages poll (`SeatMaps`' shared read). For events of several sizes this prints the time Redis
spends on the HGETALL (its own `INFO commandstats`, so the figure is what the claim scripts
wait behind) and the time a process spends reading and decoding it. It writes only its own
keys (`{ev:bench-...}:seats`) and deletes them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from redis.asyncio import Redis

from engine.seat_map import statuses_from_marks

SIZES = (1_000, 5_000, 20_000)
ROUNDS = 200


def marks(seats: int) -> dict[str, str]:
    """A sale in progress: one seat in seven held, one in five sold, the rest available."""
    return {
        str(n): "h:order" if n % 7 == 0 else "s:order" if n % 5 == 0 else "a"
        for n in range(1, seats + 1)
    }


async def measure(redis: Redis, seats: int, rounds: int) -> tuple[float, float]:
    """(µs Redis spends on one HGETALL, ms one read and decode takes in this process)."""
    key = f"{{ev:bench-{seats}}}:seats"
    await redis.delete(key)
    await redis.hset(key, mapping=marks(seats))  # type: ignore[misc]
    try:
        calls_before, usec_before = await hgetall_stats(redis)
        started = time.perf_counter()
        for _ in range(rounds):
            raw = await redis.hgetall(key)  # type: ignore[misc]
            statuses_from_marks(0, {k.decode(): v.decode() for k, v in raw.items()})
        per_read_ms = (time.perf_counter() - started) / rounds * 1000
        calls_after, usec_after = await hgetall_stats(redis)
        # other clients' HGETALLs in between count too: run it on a Redis nobody else uses
        return (usec_after - usec_before) / max(calls_after - calls_before, 1), per_read_ms
    finally:
        await redis.delete(key)


async def hgetall_stats(redis: Redis) -> tuple[int, int]:
    """HGETALL calls and the µs Redis spent on them since it started (INFO commandstats)."""
    stats = (await redis.info("commandstats")).get("cmdstat_hgetall", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


async def main(redis_url: str, rounds: int) -> None:
    redis = Redis.from_url(redis_url)
    try:
        print("seats   HGETALL in Redis   read + decode in the process   Redis busy per process")
        for seats in SIZES:
            redis_us, process_ms = await measure(redis, seats, rounds)
            # one read a second per process, however many pages poll
            print(
                f"{seats:>6}   {redis_us:>10.0f} µs   {process_ms:>22.2f} ms"
                f"   {redis_us / 10_000:>18.2f} %"
            )
    finally:
        await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", required=True, help="a Redis you may write test keys to")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.redis_url, arguments.rounds))
