"""A payment Redis has confirmed must survive a crash of the machine: the embedded Valkey
fsyncs its AOF before each reply unless REDIS_APPENDFSYNC says otherwise, and the API names
any weaker setting of an external Redis at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from engine.store.redis_durability import durability_gaps
from ops.stack import Stack


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("BOXOFFICE_REDIS_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://already.given/so-not-embedded")
    return Stack(tmp_path)


@pytest.mark.parametrize(("setting", "policy"), [(None, "always"), ("everysec", "everysec")])
async def test_the_embedded_redis_fsyncs_before_it_replies_unless_told_otherwise(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    setting: str | None,
    policy: str,
) -> None:
    if setting is None:
        monkeypatch.delenv("REDIS_APPENDFSYNC", raising=False)
    else:
        monkeypatch.setenv("REDIS_APPENDFSYNC", setting)
    stack.start_services()
    assert stack.embedded_pg is None
    assert stack.embedded_redis is not None
    redis = Redis.from_url(_url(stack))
    try:
        config = await redis.config_get("append*")
        assert (config["appendonly"], config["appendfsync"]) == ("yes", policy)
        gaps = await durability_gaps(redis)
        if policy == "always":
            assert gaps == []
        else:
            assert len(gaps) == 1 and "appendfsync is everysec" in gaps[0]
    finally:
        await redis.aclose()
        stack.embedded_redis.stop()


async def test_a_redis_without_an_append_only_file_is_named_as_able_to_lose_payments(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_APPENDFSYNC", raising=False)
    stack.start_services()
    assert stack.embedded_redis is not None
    redis = Redis.from_url(_url(stack))
    try:
        await redis.config_set("appendonly", "no")
        gaps = await durability_gaps(redis)
        assert len(gaps) == 1 and "appendonly is off" in gaps[0]
    finally:
        await redis.aclose()
        stack.embedded_redis.stop()


def _url(stack: Stack) -> str:
    assert stack.embedded_redis is not None
    return f"redis://127.0.0.1:{stack.embedded_redis.port}/0"
