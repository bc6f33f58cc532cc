"""Migrations: idempotent, safe from two processes at once, and refuse a reused number.

Each test migrates a fresh database of its own on the test server, dropped at the end, so the
suite's database is never touched.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from engine.settings import ROOT
from engine.store.migrate import ADVISORY_LOCK_KEY, apply_migrations, discover

if TYPE_CHECKING:  # imported at run time, pytest would try to collect the Test* class
    from tests.services import TestServices

NewDatabase = Callable[[], Awaitable[str]]
Schema = dict[str, list[tuple[Any, ...]]]

ALL_MIGRATIONS = [migration.name for migration in discover()]


def _on_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture
async def new_database(services: TestServices) -> AsyncIterator[NewDatabase]:
    """Create empty databases on the test server; every one is dropped at the end."""
    server_url = os.environ["DATABASE_URL"]
    created: list[str] = []

    async def create() -> str:
        name = f"bx_migrations_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        created.append(name)
        return _on_database(server_url, name)

    yield create
    conn = await asyncpg.connect(server_url)
    try:
        for name in created:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


_SCHEMA_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity
        FROM information_schema.columns WHERE table_schema = 'public'
        ORDER BY table_name, column_name""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
        ORDER BY tablename, indexname""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "functions": """
        SELECT proname, pg_get_function_identity_arguments(oid) FROM pg_proc
        WHERE pronamespace = 'public'::regnamespace ORDER BY 1, 2""",
}


async def schema_of(url: str) -> Schema:
    conn = await asyncpg.connect(url)
    try:
        return {
            part: [tuple(row) for row in await conn.fetch(query)]
            for part, query in _SCHEMA_QUERIES.items()
        }
    finally:
        await conn.close()


async def recorded_migrations(url: str) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    return [(row["version"], row["name"]) for row in rows]


def tables(schema: Schema) -> set[str]:
    return {row[0] for row in schema["columns"]}


async def test_migrating_twice_leaves_one_schema(new_database: NewDatabase) -> None:
    url = await new_database()

    assert await apply_migrations(url) == ALL_MIGRATIONS
    first = await schema_of(url)
    assert await apply_migrations(url) == []

    assert await schema_of(url) == first
    assert {"users", "events", "orders", "tickets", "schema_migrations"} <= tables(first)
    assert await recorded_migrations(url) == [(m.version, m.name) for m in discover()]


async def _wait_for_lock_waiters(
    conn: asyncpg.Connection, count: int, processes: list[Any]
) -> None:
    """Until `count` sessions wait on an advisory lock in this database; fails if a process
    exits first (it did not wait for the lock)."""
    for _ in range(600):
        waiting = await conn.fetchval(
            """SELECT count(*) FROM pg_locks
               WHERE locktype = 'advisory' AND NOT granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
        )
        if waiting == count:
            return
        for process in processes:
            if process.returncode is not None:
                _, stderr = await process.communicate()
                pytest.fail(f"migrate exited before waiting on the lock: {stderr.decode()}")
        await asyncio.sleep(0.05)
    pytest.fail(f"{count} migrate processes did not both wait on the migrations lock")


async def test_two_processes_migrating_at_once_leave_one_schema(new_database: NewDatabase) -> None:
    reference_url, url = await new_database(), await new_database()
    await apply_migrations(reference_url)
    env = {**os.environ, "DATABASE_URL": url, "JWT_SECRET": "m" * 48}
    holder = await asyncpg.connect(url)
    try:
        # hold the lock so both processes are inside apply_migrations at the same moment
        await holder.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ops.migrate",
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        await _wait_for_lock_waiters(holder, 2, processes)
        await holder.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
        outputs = await asyncio.wait_for(
            asyncio.gather(*(process.communicate() for process in processes)), timeout=60
        )
    finally:
        await holder.close()

    assert [process.returncode for process in processes] == [0, 0], outputs
    applied = [
        line.removeprefix("applied ")
        for stdout, _ in outputs
        for line in stdout.decode().splitlines()
        if line.startswith("applied ")
    ]
    assert sorted(applied) == ALL_MIGRATIONS  # each migration applied once, by one process
    assert await schema_of(url) == await schema_of(reference_url)
    assert await recorded_migrations(url) == [(m.version, m.name) for m in discover()]


def test_two_migrations_with_one_number_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("SELECT 1;")
    (tmp_path / "0002_second.sql").write_text("SELECT 2;")
    assert [m.name for m in discover(tmp_path)] == ["0001_first", "0002_second"]

    (tmp_path / "0002_also_second.sql").write_text("SELECT 3;")
    with pytest.raises(RuntimeError, match="two migrations share a number"):
        discover(tmp_path)
