"""CSV exports are written as the rows arrive: a chunk every ROWS_PER_CHUNK rows, so the rows
of a large export never sit in memory together."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from engine.exports import ROWS_PER_CHUNK, cell, csv_chunks


async def test_chunks_follow_the_rows() -> None:
    produced = 0

    async def rows() -> AsyncIterator[Sequence[Any]]:
        nonlocal produced
        for n in range(2 * ROWS_PER_CHUNK + 7):
            produced += 1
            yield (n, f"name {n}")

    chunks = csv_chunks(("n", "name"), rows())
    first = await anext(chunks)
    assert produced == ROWS_PER_CHUNK  # nothing read ahead of the first chunk
    rest = [chunk async for chunk in chunks]
    assert len(rest) == 2
    table = list(csv.reader(io.StringIO((first + b"".join(rest)).decode())))
    assert table[0] == ["n", "name"]
    assert len(table) == 1 + 2 * ROWS_PER_CHUNK + 7
    assert table[-1] == [str(2 * ROWS_PER_CHUNK + 6), f"name {2 * ROWS_PER_CHUNK + 6}"]


def test_cells() -> None:
    assert cell(None) == ""
    assert cell(datetime(2026, 12, 4, 21, 0, tzinfo=UTC)) == "2026-12-04T21:00:00+00:00"
    assert cell("=SUM(A1)") == "'=SUM(A1)"
    assert cell("-1") == "'-1"  # text that looks like a formula start
    assert cell(-1) == "-1"  # numbers stay numbers
    assert cell('He said "hi", then left') == 'He said "hi", then left'
