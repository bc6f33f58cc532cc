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
