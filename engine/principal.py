"""Who is asking: the identity carried by an access token, checked without a database read."""

from __future__ import annotations

from typing import Literal

import msgspec

Role = Literal["partner", "customer", "staff", "admin"]


class Principal(msgspec.Struct, frozen=True):
    user_id: int
    role: Role
    # the partner whose events this user manages: itself for a partner, the employer for staff
    partner_id: int | None = None
