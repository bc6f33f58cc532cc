"""argon2id password hashing, run off the event loop in a thread pool sized by
PASSWORD_THREADS (one thread per core by default, engine/settings.py)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    """Hashes and verifies passwords; argon2-cffi releases the GIL, so threads run in parallel."""

    def __init__(self, time_cost: int, memory_kib: int, threads: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")
        # a verify against this keeps unknown e-mails as slow as wrong passwords
        self._decoy = self._hasher.hash("boxoffice-decoy-password")

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool,
            self._verify_sync,
            password_hash or self._decoy,
            password,
            password_hash is not None,
        )

    def _verify_sync(self, password_hash: str, password: str, real: bool) -> bool:
        try:
            self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return real

    def close(self) -> None:
        self._pool.shutdown(wait=False)
