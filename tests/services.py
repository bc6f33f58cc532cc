"""Real PostgreSQL and Redis for the test run: the URLs given, or embedded servers.

Each run gets a fresh database (dropped afterwards) and Redis logical database 15 (flushed),
so a developer's data is never touched. Embedded servers are private to the run (their own
folder under `.data/test/`, removed afterwards), so several runs can go on at once.

With `--redis-cluster` (or TEST_REDIS_CLUSTER=1) the sale's Redis is a Redis Cluster started
here (3 masters, one replica each; a cluster has only database 0, and is private to the run),
and ARQ's job queue gets a standalone Valkey of its own, as in production.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from engine.settings import ROOT
from engine.store.migrate import apply_migrations
from ops.embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedRedisCluster

TEST_DATA = ROOT / ".data" / "test"
RUN_DATA = TEST_DATA / f"run-{os.getpid()}"


@dataclass
class TestServices:
    server_dsn: str
    database_url: str
    redis_url: str
    embedded_pg: EmbeddedPostgres | None
    embedded_redis: EmbeddedRedis | None
    cluster: EmbeddedRedisCluster | None = None
    queue_redis_url: str | None = None  # the job queue's, when it is not the sale's Redis

    def stop(self) -> None:
        asyncio.run(_drop_database(self.server_dsn, self.database_url))
        if self.embedded_redis:
            self.embedded_redis.stop()
        if self.cluster:
            self.cluster.stop()
        if self.embedded_pg:
            self.embedded_pg.stop()
        shutil.rmtree(RUN_DATA, ignore_errors=True)


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


async def _create_database(server_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(server_dsn: str, database_url: str) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def start_test_services(cluster: bool = False) -> TestServices:
    embedded_pg = embedded_redis = None
    server_dsn = os.environ.get("DATABASE_URL")
    if not server_dsn:
        embedded_pg = EmbeddedPostgres(RUN_DATA / "pg", database="boxoffice")
        server_dsn = embedded_pg.start()
    if cluster:
        return _with_cluster(embedded_pg, server_dsn)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        embedded_redis = EmbeddedRedis(RUN_DATA / "redis")
        redis_url = embedded_redis.start()
    database_url = _with_path(server_dsn, f"/bx_test_{uuid.uuid4().hex[:12]}")
    asyncio.run(_create_database(server_dsn, urlsplit(database_url).path.lstrip("/")))
    asyncio.run(apply_migrations(database_url))
    return TestServices(
        server_dsn, database_url, _with_path(redis_url, "/15"), embedded_pg, embedded_redis
    )


def _with_cluster(embedded_pg: EmbeddedPostgres | None, server_dsn: str) -> TestServices:
    queue = EmbeddedRedis(RUN_DATA / "queue-redis")
    queue_url = queue.start()
    redis_cluster = EmbeddedRedisCluster(RUN_DATA / "redis-cluster", masters=3, replicas=1)
    try:
        cluster_url = redis_cluster.start()
    except Exception:
        redis_cluster.stop()
        queue.stop()
        raise
    database_url = _with_path(server_dsn, f"/bx_test_{uuid.uuid4().hex[:12]}")
    asyncio.run(_create_database(server_dsn, urlsplit(database_url).path.lstrip("/")))
    asyncio.run(apply_migrations(database_url))
    return TestServices(
        server_dsn,
        database_url,
        cluster_url,
        embedded_pg,
        queue,
        cluster=redis_cluster,
        queue_redis_url=queue_url,
    )
