"""`python -m ops.migrate`: apply pending migrations to DATABASE_URL and print what was applied.

Run once per deployment (docker-compose's `migrate` job) before the API and workers start. Safe
to run from several processes at once: migrations are applied under a PostgreSQL advisory lock.
Exits non-zero with one line on stderr when the settings or the database refuse.
"""

from __future__ import annotations

import asyncio
import sys

from engine.settings import SettingsError, get_settings
from engine.store import pg_failures
from engine.store.migrate import apply_migrations

EXIT_FAILED = 1


def main() -> int:
    try:
        database_url = get_settings().database_url
    except SettingsError as exc:
        print(f"migrate: invalid settings: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        applied = asyncio.run(apply_migrations(database_url))
    except Exception as exc:
        # a PostgreSQL failure of any kind (engine/store/pg_failures.py), or RuntimeError: a
        # broken migrations folder
        if pg_failures.classify(exc) is None and not isinstance(exc, RuntimeError):
            raise
        print(f"migrate: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for name in applied:
        print(f"applied {name}")
    if not applied:
        print("schema up to date: nothing to apply")
    return 0


if __name__ == "__main__":
    sys.exit(main())
