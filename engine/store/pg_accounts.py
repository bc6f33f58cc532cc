"""PostgreSQL repository for users."""

from __future__ import annotations

import asyncpg

from engine.accounts import NewUser, User
from engine.errors import EmailTaken

_COLUMNS = "id, role, name, email, created_at, company_name, address, phone, partner_id"


def _user(row: asyncpg.Record) -> User:
    return User(**{key: row[key] for key in User.__struct_fields__})


class PgAccountStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert_user(self, new: NewUser) -> User:
        try:
            row = await self._pool.fetchrow(
                f"""INSERT INTO users (role, name, email, password_hash, company_name, address,
                                       phone, partner_id)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_COLUMNS}""",
                new.role,
                new.name,
                new.email,
                new.password_hash,
                new.company_name,
                new.address,
                new.phone,
                new.partner_id,
            )
        except asyncpg.UniqueViolationError as exc:
            raise EmailTaken(f"{new.email} is already registered") from exc
        return _user(row)

    async def user_with_hash(self, email: str) -> tuple[User, str] | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)", email
        )
        return (_user(row), row["password_hash"]) if row else None

    async def user_by_id(self, user_id: int) -> User | None:
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = $1", user_id)
        return _user(row) if row else None
