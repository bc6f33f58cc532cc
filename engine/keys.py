"""Every Redis key name, built in one place.

Inventory and waiting-room keys of one event share the hash tag `{ev:<id>}`, so each Lua
script touches a single Redis Cluster slot. Keys that are not per event carry no tag.
"""

from __future__ import annotations

import hashlib

PREFIX = "bx"


def login_failures_by_email(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"{PREFIX}:login:fail:email:{digest}"


def login_failures_by_address(address: str) -> str:
    return f"{PREFIX}:login:fail:addr:{address}"
