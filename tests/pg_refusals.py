"""Make PostgreSQL refuse one order for a while with a transient error (a serialization
failure, as a retry may clear), to test the retry paths: a refusal for good (a deleted
customer, say) makes a dead letter instead (tests/integration/test_dead_letters.py)."""

from __future__ import annotations

import uuid

import asyncpg


class TransientRefusal:
    """`await refusal.start()` makes PostgreSQL refuse every write of the order's row;
    `await refusal.stop()` lets it through again."""

    def __init__(self, pool: asyncpg.Pool, order_id: str) -> None:
        self._pool = pool
        self._order_id = order_id
        self._name = f"bx_test_refuse_{uuid.uuid4().hex[:12]}"

    async def start(self) -> None:
        await self._pool.execute(
            f"""CREATE FUNCTION {self._name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.id = {_literal(self._order_id)} THEN
                    RAISE EXCEPTION 'refused by a test' USING ERRCODE = 'serialization_failure';
                  END IF;
                  RETURN NEW;
                END $$;
                CREATE TRIGGER {self._name} BEFORE INSERT OR UPDATE ON orders
                  FOR EACH ROW EXECUTE FUNCTION {self._name}();"""
        )

    async def stop(self) -> None:
        await self._pool.execute(
            f"DROP TRIGGER IF EXISTS {self._name} ON orders; DROP FUNCTION IF EXISTS {self._name}()"
        )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
