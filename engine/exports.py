"""CSV exports of an event's orders and attendees, written row by row as the rows arrive, so
an export of 100,000 rows never sits in memory (the rows come from a database cursor)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

ORDER_COLUMNS = (
    "order_id",
    "created_at",
    "status",
    "customer_name",
    "customer_email",
    "items",
    "quantity",
    "total_cents",
    "paid_at",
)
ATTENDEE_COLUMNS = (
    "ticket_id",
    "label",
    "holder_name",
    "holder_email",
    "code",
    "status",
    "checked_in_at",
    "order_id",
)
ROWS_PER_CHUNK = 500
# a cell starting with one of these is a formula to a spreadsheet: a customer named
# "=HYPERLINK(...)" must not become one in the partner's spreadsheet (CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


async def csv_chunks(
    columns: Sequence[str], rows: AsyncIterator[Sequence[Any]]
) -> AsyncIterator[bytes]:
    """The header, then the rows, as UTF-8 CSV (RFC 4180 quoting, CRLF), in chunks of
    ROWS_PER_CHUNK rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    count = 0
    async for row in rows:
        writer.writerow([cell(value) for value in row])
        count += 1
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
