"""Settings from the environment: production refuses weak or missing secrets, development
generates one once, and a bad value is a SettingsError, never a crash later."""

from __future__ import annotations

import os
import stat
from email.message import EmailMessage
from pathlib import Path

import pytest

from engine.settings import (
    SettingsError,
    earlier_ticket_signing_keys,
    load_settings,
    load_stack_settings,
    ticket_signing_key,
)
from engine.store.mail_transports import EmlDirectory, SmtpTransport
from workers.ticket_tasks import mail_transport

SECRET = "s" * 48
_NAMES = (
    "ENV", "DATA_DIR", "DATABASE_URL", "REDIS_URL", "QUEUE_REDIS_URL", "HOST", "PORT",
    "JWT_SECRET", "JWT_TTL_SECONDS", "TICKET_SIGNING_KEY", "LOG_LEVEL", "REDIS_APPENDFSYNC",
    "HSTS_SECONDS", "METRICS_TOKEN", "SMTP_URL", "MAIL_FROM", "WEB_CONCURRENCY",
    "TICKET_SIGNING_KEY_PREVIOUS", "ACCESS_LOG_SAMPLE", "WORKER_METRICS_PORT",
    "PASSWORD_THREADS", "REFRESH_TTL_SECONDS",
    "PUBLIC_URL", "CURRENCY", "TIME_ZONE", "REDIS_CLUSTER",
    "DB_POOL_SIZE", "WORKER_DB_POOL_SIZE", "DB_STATEMENT_CACHE_SIZE", "REDIS_PAYMENT_REPLICAS",
    "REDIS_PAYMENT_WAIT_MS",
)  # fmt: skip


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Only what each test sets: the suite's own URLs and BOXOFFICE_* values are removed."""
    for name in list(os.environ):
        if name in _NAMES or name.startswith("BOXOFFICE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.invalid/boxoffice")
    monkeypatch.setenv("REDIS_URL", "redis://redis.invalid:6379/0")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    return tmp_path


def test_production_without_jwt_secret_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, environment: Path
) -> None:
    monkeypatch.setenv("BOXOFFICE_ENV", "production")

    with pytest.raises(SettingsError, match="requires JWT_SECRET"):
        load_settings()
    assert not (environment / "jwt_secret").exists()  # no generated secret in production


def test_production_with_a_long_secret_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOXOFFICE_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("TICKET_SIGNING_KEY", "a ticket key of its own")

    settings = load_settings()

    assert settings.production
    assert settings.jwt_secret == SECRET


@pytest.mark.parametrize("env", ["production", "development"])
def test_a_short_jwt_secret_is_refused(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("BOXOFFICE_ENV", env)
    monkeypatch.setenv("JWT_SECRET", "x" * 31)

    with pytest.raises(SettingsError, match="at least 32 characters"):
        load_settings()


def test_development_generates_a_secret_once_and_reuses_it(environment: Path) -> None:
    first = load_settings()
    secret_file = environment / "jwt_secret"

    assert not first.production
    assert len(first.jwt_secret) >= 32
    assert secret_file.read_text().strip() == first.jwt_secret
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert load_settings().jwt_secret == first.jwt_secret


def test_development_secrets_differ_between_data_dirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = load_settings().jwt_secret
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "other"))

    assert load_settings().jwt_secret != first


def test_queue_redis_url_defaults_to_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().job_queue_redis_url == "redis://redis.invalid:6379/0"

    monkeypatch.setenv("QUEUE_REDIS_URL", "redis://queue.invalid:6379/0")
    settings = load_settings()

    assert settings.job_queue_redis_url == "redis://queue.invalid:6379/0"
    assert settings.redis_url == "redis://redis.invalid:6379/0"


def test_password_verifies_use_every_core_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2-cffi releases the GIL: one verify thread per core lets a login storm use the
    whole machine (engine/passwords.py)."""
    assert load_settings().password_threads == os.cpu_count()
    monkeypatch.setenv("PASSWORD_THREADS", "3")
    assert load_settings().password_threads == 3


def test_refresh_tokens_lapse_after_thirty_days_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().refresh_ttl_seconds == 30 * 86_400
    monkeypatch.setenv("REFRESH_TTL_SECONDS", "3600")
    assert load_settings().refresh_ttl_seconds == 3600


@pytest.mark.parametrize("port", ["eighty", "80.5", "8000x"])
def test_a_port_that_is_not_an_integer_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    monkeypatch.setenv("PORT", port)

    with pytest.raises(SettingsError, match="PORT must be an integer"):
        load_settings()


def test_missing_database_url_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL")

    with pytest.raises(SettingsError, match="DATABASE_URL and REDIS_URL must be set"):
        load_settings()


def test_plain_names_win_over_prefixed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOXOFFICE_PORT", "9001")
    assert load_settings().port == 9001

    monkeypatch.setenv("PORT", "9002")
    assert load_settings().port == 9002


def test_the_embedded_redis_fsyncs_always_unless_a_known_policy_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_stack_settings().redis_appendfsync == "always"
    monkeypatch.setenv("BOXOFFICE_REDIS_APPENDFSYNC", "everysec")
    assert load_stack_settings().redis_appendfsync == "everysec"
    monkeypatch.setenv("REDIS_APPENDFSYNC", "sometimes")
    with pytest.raises(SettingsError, match="REDIS_APPENDFSYNC must be one of always, everysec"):
        load_stack_settings()


def test_the_ticket_signing_key_is_independent_of_the_jwt_secret(
    monkeypatch: pytest.MonkeyPatch, environment: Path
) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    generated = load_settings()  # development: generated once in DATA_DIR, kept
    assert generated.ticket_signing_key not in (SECRET, f"ticket-codes:{SECRET}")
    assert load_settings().ticket_signing_key == generated.ticket_signing_key
    # what earlier versions derived from JWT_SECRET still opens the keys they sealed
    assert earlier_ticket_signing_keys(generated) == [f"ticket-codes:{SECRET}".encode()]

    monkeypatch.setenv("BOXOFFICE_TICKET_SIGNING_KEY", "prefixed-key")
    assert ticket_signing_key(load_settings()) == b"prefixed-key"
    monkeypatch.setenv("TICKET_SIGNING_KEY", "plain-key")
    monkeypatch.setenv("TICKET_SIGNING_KEY_PREVIOUS", "old-key-2, old-key-1")
    rotated = load_settings()
    assert ticket_signing_key(rotated) == b"plain-key"
    assert earlier_ticket_signing_keys(rotated) == [
        b"old-key-2",
        b"old-key-1",
        f"ticket-codes:{SECRET}".encode(),
    ]

    monkeypatch.setenv("BOXOFFICE_ENV", "production")
    monkeypatch.setenv("TICKET_SIGNING_KEY", "")  # empty: unset, as for every setting
    monkeypatch.delenv("BOXOFFICE_TICKET_SIGNING_KEY")
    with pytest.raises(SettingsError, match="requires TICKET_SIGNING_KEY"):
        load_settings()


async def test_mail_goes_to_eml_files_unless_an_smtp_url_is_given(
    monkeypatch: pytest.MonkeyPatch, environment: Path
) -> None:
    settings = load_settings()
    assert settings.smtp_url is None
    assert settings.mail_from is None
    transport = mail_transport(settings)
    assert isinstance(transport, EmlDirectory)
    message = EmailMessage()
    message["Subject"] = "tickets"
    await transport.send(message, "order-1")
    assert [p.name for p in (environment / "mail").iterdir()] == ["order-1.eml"]

    monkeypatch.setenv("BOXOFFICE_SMTP_URL", "smtp://user:pw@mail.invalid:2525")
    monkeypatch.setenv("MAIL_FROM", "tickets@example.org")
    settings = load_settings()
    assert settings.smtp_url == "smtp://user:pw@mail.invalid:2525"
    assert settings.mail_from == "tickets@example.org"
    assert isinstance(mail_transport(settings), SmtpTransport)


def test_the_data_folder_has_one_value_under_either_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATA_DIR")
    monkeypatch.setenv("BOXOFFICE_DATA_DIR", str(tmp_path / "prefixed"))
    assert load_settings().data_dir == tmp_path / "prefixed"
    assert load_stack_settings().data_dir == tmp_path / "prefixed"

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "plain"))
    assert load_settings().data_dir == tmp_path / "plain"
    assert load_stack_settings().data_dir == tmp_path / "plain"


def test_the_launcher_reads_its_settings_before_the_servers_exist(
    monkeypatch: pytest.MonkeyPatch, environment: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("REDIS_URL")
    launch = load_stack_settings()  # no SettingsError: missing URLs mean embedded servers
    assert (launch.database_url, launch.redis_url) == (None, None)
    assert (launch.data_dir, launch.log_level, launch.web_concurrency) == (environment, "INFO", 1)

    monkeypatch.setenv("BOXOFFICE_DATABASE_URL", "postgresql://db.invalid/given")
    monkeypatch.setenv("BOXOFFICE_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("BOXOFFICE_WEB_CONCURRENCY", "4")
    launch = load_stack_settings()
    assert launch.database_url == "postgresql://db.invalid/given"
    assert (launch.log_level, launch.web_concurrency) == ("WARNING", 4)

    monkeypatch.setenv("WEB_CONCURRENCY", "many")
    with pytest.raises(SettingsError, match="WEB_CONCURRENCY must be an integer"):
        load_stack_settings()


def test_metrics_token_and_hsts_are_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.metrics_token, settings.hsts_seconds) == (None, 0)

    monkeypatch.setenv("BOXOFFICE_METRICS_TOKEN", "scrape-me")
    monkeypatch.setenv("HSTS_SECONDS", "31536000")
    settings = load_settings()
    assert (settings.metrics_token, settings.hsts_seconds) == ("scrape-me", 31536000)

    monkeypatch.setenv("HSTS_SECONDS", "a year")
    with pytest.raises(SettingsError, match="HSTS_SECONDS must be an integer"):
        load_settings()


def test_a_redis_cluster_needs_a_standalone_queue_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_CLUSTER", "1")
    with pytest.raises(SettingsError, match="QUEUE_REDIS_URL"):
        load_settings()
    monkeypatch.setenv("QUEUE_REDIS_URL", "redis://queue.invalid:6379/0")
    settings = load_settings()
    assert settings.redis_cluster
    assert settings.job_queue_redis_url == "redis://queue.invalid:6379/0"
    assert (settings.payment_replicas, settings.payment_wait_ms) == (0, 1000)
    monkeypatch.setenv("REDIS_PAYMENT_REPLICAS", "1")
    monkeypatch.setenv("REDIS_PAYMENT_WAIT_MS", "250")
    assert (load_settings().payment_replicas, load_settings().payment_wait_ms) == (1, 250)
    monkeypatch.setenv("REDIS_CLUSTER", "maybe")
    with pytest.raises(SettingsError, match="REDIS_CLUSTER must be 1/0"):
        load_settings()


def test_pool_sizes_and_statement_cache_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert (defaults.db_pool_size, defaults.worker_db_pool_size) == (10, 8)
    assert defaults.db_statement_cache_size == 100
    monkeypatch.setenv("DB_POOL_SIZE", "3")
    monkeypatch.setenv("WORKER_DB_POOL_SIZE", "2")
    monkeypatch.setenv("DB_STATEMENT_CACHE_SIZE", "0")
    given = load_settings()
    assert (given.db_pool_size, given.worker_db_pool_size, given.db_statement_cache_size) == (
        3,
        2,
        0,
    )


def test_what_customers_see_has_defaults_and_refuses_bad_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    assert (settings.public_url, settings.currency, settings.time_zone) == (
        "http://127.0.0.1:8000",
        "USD",
        "UTC",
    )
    monkeypatch.setenv("PUBLIC_URL", "https://tickets.example.org/")
    monkeypatch.setenv("CURRENCY", "brl")
    monkeypatch.setenv("TIME_ZONE", "America/Sao_Paulo")
    settings = load_settings()
    assert (settings.public_url, settings.currency, settings.time_zone) == (
        "https://tickets.example.org",
        "BRL",
        "America/Sao_Paulo",
    )
    monkeypatch.setenv("TIME_ZONE", "Mars/Olympus_Mons")
    with pytest.raises(SettingsError, match="TIME_ZONE"):
        load_settings()
    monkeypatch.setenv("TIME_ZONE", "UTC")
    monkeypatch.setenv("CURRENCY", "dollars")
    with pytest.raises(SettingsError, match="CURRENCY"):
        load_settings()
