"""Milliseconds since the epoch and back, exactly, over the whole range of accepted moments."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from engine.moments import EARLIEST, LATEST, from_ms, to_ms

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BOUNDARY_MS = 2**32 * 1000  # where from_ms stops using a float timestamp


def test_from_ms_and_to_ms_are_exact_inverses() -> None:
    rng = random.Random(19)
    low, high = to_ms(EARLIEST), to_ms(LATEST)
    samples = [rng.randrange(low, high) for _ in range(50_000)]
    samples += [low, high - 1, 0, -1, 1, BOUNDARY_MS, -BOUNDARY_MS]
    samples += [BOUNDARY_MS + d for d in (-2, -1, 1, 2)] + [-BOUNDARY_MS + d for d in (-1, 1)]
    for ms in samples:
        moment = from_ms(ms)
        assert moment == EPOCH + timedelta(milliseconds=ms), ms
        assert to_ms(moment) == ms


def test_to_ms_counts_whole_milliseconds_down() -> None:
    assert to_ms(datetime(2026, 12, 4, 18, 0, 0, 999_999, tzinfo=UTC)) % 1000 == 999
    assert to_ms(EPOCH - timedelta(microseconds=1)) == -1
