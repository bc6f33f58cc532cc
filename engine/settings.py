"""Settings read once from the environment into typed objects; the only module that reads
the environment for the application.

Plain names (`DATABASE_URL`, `REDIS_URL`, ...) are read first, then the same name with a
`BOXOFFICE_` prefix. Tests and the stack launcher may set the environment before the first
`get_settings()` call, or call `reset_settings()` afterwards. `StackSettings` is what
`make run` (ops/stack.py) needs before the servers exist, so before `Settings` can be read.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.rate_limits import Rate, RateLimits

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(RuntimeError):
    """The environment does not describe a usable configuration."""


@dataclass(frozen=True, slots=True)
class Settings:
    env: str
    database_url: str
    redis_url: str
    job_queue_redis_url: str
    host: str
    port: int
    jwt_secret: str
    jwt_ttl_seconds: int
    data_dir: Path
    argon2_time_cost: int
    argon2_memory_kib: int
    password_threads: int
    login_limit_per_pair: int
    login_limit_per_email: int
    login_limit_per_address: int
    login_window_seconds: int
    rate_limits: RateLimits
    log_level: str
    ticket_signing_key: str  # seals gate keys (engine/gate_keys.py); independent of JWT_SECRET
    smtp_url: str | None  # None: mail is written as .eml files under <data_dir>/mail
    mail_from: str | None  # None: engine.ticket_mail.DEFAULT_SENDER
    hsts_seconds: int = 0
    metrics_token: str | None = None
    # REDIS_URL names a node of a Redis Cluster (engine/store/redis_client.py)
    redis_cluster: bool = False
    # PostgreSQL connections each API process may open (DB_POOL_SIZE); the worker's is its own
    db_pool_size: int = 10
    # a payment is acknowledged once this many replicas of the event's Redis master have it
    # (REDIS_PAYMENT_REPLICAS; WAIT after the confirming script), waiting at most
    # REDIS_PAYMENT_WAIT_MS: with 1, a master's crash right after a confirmation cannot take
    # a payment the buyer was told about. 0 (the default) waits for none.
    payment_replicas: int = 0
    payment_wait_ms: int = 1000
    worker_db_pool_size: int = 8  # the same for each ARQ worker process (WORKER_DB_POOL_SIZE)
    # asyncpg's prepared-statement cache per connection (DB_STATEMENT_CACHE_SIZE): 0 behind
    # PgBouncer in transaction pooling, where a connection's next transaction may run on
    # another server connection that never saw the statement prepared
    db_statement_cache_size: int = 100
    # what customers see: links in e-mails start with public_url; prices are in `currency`
    # (ISO 4217) and moments in `time_zone` (IANA), written per language by engine/locales.py
    public_url: str = "http://127.0.0.1:8000"
    currency: str = "USD"
    time_zone: str = "UTC"
    # earlier TICKET_SIGNING_KEYs: gate keys sealed under them still open (a rotation)
    previous_ticket_signing_keys: tuple[str, ...] = ()
    access_log_sample: float = 1.0  # share of hot-path answers below 500 that are logged
    worker_metrics_port: int = 0  # the worker's Prometheus port; 0: not served
    session_ttl_seconds: int = 8 * 3600
    secure_cookies: bool = False
    refresh_ttl_seconds: int = 30 * 86_400

    @property
    def production(self) -> bool:
        return self.env == "production"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None:
        value = os.environ.get(f"BOXOFFICE_{name}")
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _rate(name: str, default: str) -> Rate:
    raw = _env(name, default) or default
    try:
        return Rate.parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be REQUESTS/SECONDS or 0, got {raw!r}") from exc


def _rate_limits() -> RateLimits:
    """Defaults no real buyer meets (a waiting-room page polls every few seconds; a buyer
    claims a few times a minute), low enough to stop a script: 2,000 joins a second from
    one customer, 500 registrations in a burst from one address."""
    return RateLimits(
        register_per_address=_rate("RATE_LIMIT_REGISTER_PER_ADDRESS", "20/600"),
        login_per_address=_rate("RATE_LIMIT_LOGIN_PER_ADDRESS", "60/60"),
        pay_per_customer=_rate("RATE_LIMIT_PAY_PER_CUSTOMER", "20/60"),
        claims_per_customer=_rate("RATE_LIMIT_CLAIMS_PER_CUSTOMER", "40/20"),
        claims_per_address=_rate("RATE_LIMIT_CLAIMS_PER_ADDRESS", "300/10"),
        queue_per_customer=_rate("RATE_LIMIT_QUEUE_PER_CUSTOMER", "60/60"),
    )


def _jwt_secret(env: str, data_dir: Path) -> str:
    secret = _env("JWT_SECRET")
    if secret:
        if len(secret) < 32:
            raise SettingsError("JWT_SECRET must be at least 32 characters")
        return secret
    if env == "production":
        raise SettingsError("BOXOFFICE_ENV=production requires JWT_SECRET")
    path = data_dir / "jwt_secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
        log.warning("JWT_SECRET not set: generated a development secret in %s", path)
    return path.read_text().strip()


def _generated_secret(name: str, env: str, data_dir: Path) -> str:
    """NAME from the environment; in development, a secret generated once in DATA_DIR."""
    secret = _env(name)
    if secret:
        return secret
    if env == "production":
        raise SettingsError(f"BOXOFFICE_ENV=production requires {name}")
    path = data_dir / name.lower()
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
        log.warning("%s not set: generated a development secret in %s", name, path)
    return path.read_text().strip()


def _data_dir() -> Path:
    """DATA_DIR (or BOXOFFICE_DATA_DIR): generated secrets, mail files, embedded servers."""
    return Path(_env("DATA_DIR", str(ROOT / ".data")) or ROOT / ".data")


def _log_level() -> str:
    return _env("LOG_LEVEL", "INFO") or "INFO"


def load_settings() -> Settings:
    env = _env("ENV", "development") or "development"
    data_dir = _data_dir()
    database_url = _env("DATABASE_URL")
    redis_url = _env("REDIS_URL")
    if not database_url or not redis_url:
        raise SettingsError(
            "DATABASE_URL and REDIS_URL must be set (`make run` starts embedded servers and "
            "sets them for you)"
        )
    redis_cluster = _flag("REDIS_CLUSTER")
    job_queue_redis_url = _env("QUEUE_REDIS_URL")
    if redis_cluster and not job_queue_redis_url:
        raise SettingsError(
            "REDIS_CLUSTER=1 needs QUEUE_REDIS_URL: ARQ's job queue lives on a standalone Redis"
        )
    return Settings(
        env=env,
        database_url=database_url,
        redis_url=redis_url,
        job_queue_redis_url=job_queue_redis_url or redis_url,
        redis_cluster=redis_cluster,
        db_pool_size=_int("DB_POOL_SIZE", 10),
        worker_db_pool_size=_int("WORKER_DB_POOL_SIZE", 8),
        payment_replicas=_int("REDIS_PAYMENT_REPLICAS", 0),
        payment_wait_ms=_int("REDIS_PAYMENT_WAIT_MS", 1000),
        db_statement_cache_size=_int("DB_STATEMENT_CACHE_SIZE", 100),
        host=_env("HOST", "127.0.0.1") or "127.0.0.1",
        port=_int("PORT", 8000),
        jwt_secret=_jwt_secret(env, data_dir),
        jwt_ttl_seconds=_int("JWT_TTL_SECONDS", 3600),
        data_dir=data_dir,
        # argon2id, 1 pass over 40 MiB: still memory-hard, and a fraction of the library
        # default's verify time, so logins do not queue behind hashing (README: figures)
        argon2_time_cost=_int("ARGON2_TIME_COST", 1),
        argon2_memory_kib=_int("ARGON2_MEMORY_KIB", 40960),
        # argon2-cffi releases the GIL: one thread per core lets logins use the whole machine
        password_threads=_int("PASSWORD_THREADS", os.cpu_count() or 2),
        # failed logins per window: per (e-mail, address) pair first, then a per-e-mail
        # ceiling and a per-address one that skip pairs which logged in before
        # (engine/accounts.py `LoginThrottle`)
        login_limit_per_pair=_int("LOGIN_LIMIT_PER_PAIR", 10),
        login_limit_per_email=_int("LOGIN_LIMIT_PER_EMAIL", 100),
        login_limit_per_address=_int("LOGIN_LIMIT_PER_ADDRESS", 200),
        login_window_seconds=_int("LOGIN_WINDOW_SECONDS", 300),
        rate_limits=_rate_limits(),
        log_level=_log_level(),
        ticket_signing_key=_generated_secret("TICKET_SIGNING_KEY", env, data_dir),
        previous_ticket_signing_keys=tuple(
            key.strip()
            for key in (_env("TICKET_SIGNING_KEY_PREVIOUS") or "").split(",")
            if key.strip()
        ),
        smtp_url=_env("SMTP_URL"),
        mail_from=_env("MAIL_FROM"),
        # Strict-Transport-Security max-age, for an API served over TLS; 0 sends none
        hsts_seconds=_int("HSTS_SECONDS", 0),
        # the bearer token /metrics asks for; in production, no token means no /metrics
        metrics_token=_env("METRICS_TOKEN"),
        public_url=_public_url(),
        currency=_currency(),
        time_zone=_time_zone(),
        access_log_sample=_share("ACCESS_LOG_SAMPLE", 0.01),
        worker_metrics_port=_int("WORKER_METRICS_PORT", 9101),
        # a browser session (the pages' cookie) lasts this long from sign-in
        session_ttl_seconds=_int("SESSION_TTL_SECONDS", 8 * 3600),
        # cookies are Secure on requests that came over TLS; this makes them Secure always
        # (behind a proxy that ends TLS and does not say so in X-Forwarded-Proto)
        secure_cookies=_flag("SECURE_COOKIES"),
        # a sign-in's refresh tokens lapse after this long unused (engine/refresh_tokens.py)
        refresh_ttl_seconds=_int("REFRESH_TTL_SECONDS", 30 * 86_400),
    )


def _share(name: str, default: float) -> float:
    """A fraction from 0 to 1 (ACCESS_LOG_SAMPLE: of the hot paths' answers below 500 that
    get an access log line; the other answers are always logged)."""
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number from 0 to 1, got {raw!r}") from exc
    if not 0 <= value <= 1:
        raise SettingsError(f"{name} must be a number from 0 to 1, got {raw!r}")
    return value


def _flag(name: str) -> bool:
    raw = (_env(name, "0") or "0").lower()
    if raw not in ("0", "1", "true", "false", "yes", "no"):
        raise SettingsError(f"{name} must be 1/0, true/false or yes/no, got {raw!r}")
    return raw in ("1", "true", "yes")


def _public_url() -> str:
    """PUBLIC_URL: where customers reach the site, for links in e-mails (no trailing /)."""
    host, port = _env("HOST", "127.0.0.1") or "127.0.0.1", _int("PORT", 8000)
    return (_env("PUBLIC_URL", f"http://{host}:{port}") or "").rstrip("/")


def _currency() -> str:
    """CURRENCY: the ISO 4217 code of every price (prices are minor units of it)."""
    value = (_env("CURRENCY", "USD") or "USD").upper()
    if len(value) != 3 or not value.isalpha():
        raise SettingsError(f"CURRENCY must be an ISO 4217 code such as USD, got {value!r}")
    return value


def _time_zone() -> str:
    """TIME_ZONE: the IANA zone (America/Sao_Paulo) customers' pages and e-mails show
    moments in."""
    value = _env("TIME_ZONE", "UTC") or "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"TIME_ZONE must be an IANA time zone, got {value!r}") from exc
    return value


APPENDFSYNC_POLICIES = ("always", "everysec", "no")


@dataclass(frozen=True, slots=True)
class StackSettings:
    """What the launcher (`make run`, ops/stack.py) reads before it starts anything."""

    data_dir: Path
    log_level: str
    database_url: str | None  # None: start an embedded PostgreSQL under data_dir
    redis_url: str | None  # None: start an embedded Valkey under data_dir
    redis_appendfsync: str
    web_concurrency: int  # uvicorn worker processes (WEB_CONCURRENCY)
    redis_cluster: bool = False  # REDIS_CLUSTER: without REDIS_URL, an embedded cluster


def load_stack_settings() -> StackSettings:
    return StackSettings(
        data_dir=_data_dir(),
        log_level=_log_level(),
        database_url=_env("DATABASE_URL"),
        redis_url=_env("REDIS_URL"),
        redis_appendfsync=_redis_appendfsync(),
        web_concurrency=_int("WEB_CONCURRENCY", 1),
        redis_cluster=_flag("REDIS_CLUSTER"),
    )


def _redis_appendfsync() -> str:
    """The embedded Valkey's AOF fsync policy (REDIS_APPENDFSYNC). `always` by default: Redis
    then writes and fsyncs each round of commands before it replies, so a payment it has
    confirmed (the order sold and in its outbox) survives a crash of the machine, not only of
    the process. `everysec` risks the last second of them for a few more claims per second
    (README: Durability)."""
    value = _env("REDIS_APPENDFSYNC", "always") or "always"
    if value not in APPENDFSYNC_POLICIES:
        raise SettingsError(
            f"REDIS_APPENDFSYNC must be one of {', '.join(APPENDFSYNC_POLICIES)}, got {value!r}"
        )
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    get_settings.cache_clear()


def ticket_signing_key(settings: Settings) -> bytes:
    """The secret that seals new gate keys: TICKET_SIGNING_KEY."""
    return settings.ticket_signing_key.encode()


def earlier_ticket_signing_keys(settings: Settings) -> list[bytes]:
    """Secrets that only open gate keys sealed before: TICKET_SIGNING_KEY_PREVIOUS (a
    rotation), then the one earlier versions derived from JWT_SECRET when TICKET_SIGNING_KEY
    was unset, so keys sealed by them stay readable (README: rotating the ticket key)."""
    earlier = [key.encode() for key in settings.previous_ticket_signing_keys]
    earlier.append(f"ticket-codes:{settings.jwt_secret}".encode())
    current = ticket_signing_key(settings)
    return [key for key in dict.fromkeys(earlier) if key != current]
