"""Storage adapters: asyncpg repositories, redis-py script runners and migrations."""
