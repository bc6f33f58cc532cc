"""Constrained field types shared by the request schemas, so limits are declared once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar.params import PathParameter, QueryParameter
from msgspec import Meta

MAX_ID = 2**63 - 1
MAX_CENTS = 100_000_000_000

Id = Annotated[int, Meta(ge=1, le=MAX_ID)]
PathId = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
PathText = Annotated[str, PathParameter(max_length=200)]
# PostgreSQL text cannot hold NUL: refuse it here rather than fail at the database
NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]
ShortText = Annotated[str, Meta(max_length=500, pattern=NO_NUL)]
LongText = Annotated[str, Meta(max_length=10_000, pattern=NO_NUL)]
Url = Annotated[str, Meta(max_length=2000, pattern=r"^https?://\S+$")]
Email = Annotated[
    str, Meta(min_length=3, max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")
]
Password = Annotated[str, Meta(min_length=8, max_length=256)]
Phone = Annotated[str, Meta(max_length=40, pattern=NO_NUL)]
Cents = Annotated[int, Meta(ge=0, le=MAX_CENTS)]
Quantity = Annotated[int, Meta(ge=0, le=10_000_000)]
Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Cursor = Annotated[str | None, QueryParameter(max_length=1000)]
Timestamp = Annotated[datetime, Meta(tz=True)]
