"""PostgreSQL repository for users."""

from __future__ import annotations

import asyncpg

from engine.accounts import NewUser, StaffMember, User
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

    async def user_with_hash(self, email: str) -> tuple[User, str, bool] | None:
        row = await self._pool.fetchrow(
            f"""SELECT {_COLUMNS}, password_hash, disabled_at IS NOT NULL AS disabled
                  FROM users WHERE lower(email) = lower($1) AND deleted_at IS NULL""",
            email,
        )
        return (_user(row), row["password_hash"], row["disabled"]) if row else None

    async def set_locale(self, user_id: int, locale: str) -> None:
        await self._pool.execute("UPDATE users SET locale = $2 WHERE id = $1", user_id, locale)

    async def user_by_id(self, user_id: int) -> User | None:
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = $1", user_id)
        return _user(row) if row else None

    async def user_and_disabled(self, user_id: int) -> tuple[User, bool] | None:
        row = await self._pool.fetchrow(
            f"""SELECT {_COLUMNS}, disabled_at IS NOT NULL OR deleted_at IS NOT NULL AS disabled
                  FROM users WHERE id = $1""",
            user_id,
        )
        return (_user(row), row["disabled"]) if row else None

    async def set_disabled(self, email: str, disabled: bool) -> list[int]:
        rows = await self._pool.fetch(
            """UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END
                WHERE lower(email) = lower($1) AND deleted_at IS NULL RETURNING id""",
            email,
            disabled,
        )
        return [row["id"] for row in rows]

    async def delete_user(self, email: str) -> list[int]:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE users
                      SET deleted_at = now(), disabled_at = coalesce(disabled_at, now()),
                          name = 'Deleted user', email = 'deleted-' || id || '@deleted.invalid',
                          password_hash = '!', address = NULL, phone = NULL
                    WHERE lower(email) = lower($1) AND deleted_at IS NULL RETURNING id, role""",
                email,
            )
            if row is None:
                return []
            staff = await conn.fetch(
                """UPDATE users SET disabled_at = coalesce(disabled_at, now())
                    WHERE partner_id = $1 RETURNING id""",
                row["id"],
            )
        return [row["id"], *(s["id"] for s in staff)]

    async def staff_of(self, partner_id: int) -> list[StaffMember]:
        rows = await self._pool.fetch(
            """SELECT id, name, email, created_at, disabled_at IS NOT NULL AS disabled
                 FROM users WHERE partner_id = $1 AND role = 'staff' AND deleted_at IS NULL
                ORDER BY created_at, id""",
            partner_id,
        )
        return [StaffMember(**dict(row)) for row in rows]

    async def disable_staff(self, partner_id: int, staff_id: int) -> list[int]:
        rows = await self._pool.fetch(
            """UPDATE users SET disabled_at = coalesce(disabled_at, now())
                WHERE id = $1 AND partner_id = $2 AND role = 'staff' AND deleted_at IS NULL
            RETURNING id""",
            staff_id,
            partner_id,
        )
        return [row["id"] for row in rows]

    async def revoked_user_ids(self) -> list[int]:
        rows = await self._pool.fetch("SELECT id FROM users WHERE disabled_at IS NOT NULL")
        return [row["id"] for row in rows]
