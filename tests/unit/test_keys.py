"""engine/keys.py spells ARQ's keys itself (engine/ does not import ARQ): they must be the
installed ARQ's, or batch claims would miss the jobs ARQ runs."""

from __future__ import annotations

from arq.constants import (
    default_queue_name,
    health_check_key_suffix,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)

from engine import keys


def test_arq_keys_are_arqs_own() -> None:
    assert default_queue_name == keys.ARQ_QUEUE
    assert default_queue_name + health_check_key_suffix == keys.ARQ_HEALTH_CHECK
    assert keys.arq_job("42-abc") == job_key_prefix + "42-abc"
    assert keys.arq_in_progress("42-abc") == in_progress_key_prefix + "42-abc"
    assert keys.arq_retry("42-abc") == retry_key_prefix + "42-abc"
    assert keys.arq_result("42-abc") == result_key_prefix + "42-abc"


def test_each_script_call_names_keys_of_one_cluster_slot() -> None:
    """Redis Cluster runs a script only if all its KEYS hash to one slot: each event's
    script keys, its waiting room's (with the sale keys the room reads) and the login
    throttle's share one; different events spread over the slots."""
    from redis.crc import key_slot

    from engine.store.redis_waiting_room import join_keys

    def slots(names: list[str]) -> set[int]:
        return {key_slot(name.encode()) for name in names}

    for event_id in (1, 42, 10**9):
        assert len(slots(keys.event_keys(event_id))) == 1
        assert slots(
            [
                *join_keys(event_id),
                keys.waiting_room_rate(event_id),
                keys.waiting_room_shuffle(event_id),
                keys.waiting_room_opening_lock(event_id),
                keys.gate_keys(event_id),
                keys.cancel_lease(event_id, "order"),
            ]
        ) == slots(keys.event_keys(event_id))
    login = [
        keys.login_failures_by_pair("a@example.com", "10.0.0.1"),
        keys.login_failures_by_email("a@example.com"),
        keys.login_failures_by_address("10.0.0.1"),
        keys.login_known_pair("a@example.com", "10.0.0.1"),
    ]
    assert len(slots(login)) == 1
    assert len(slots([keys.event_tag(e) for e in range(1, 200)])) > 150
