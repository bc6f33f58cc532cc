"""Failed logins: counted before the password is checked, per (e-mail, address) pair first,
with higher ceilings per e-mail and per address that do not hold back a pair that logged in
lately (engine/accounts.py `LoginThrottle`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from engine.accounts import Accounts, LoginResult, Registration
from engine.errors import InvalidCredentials, TooManyAttempts
from engine.refresh_tokens import RefreshTokens
from engine.settings import get_settings
from engine.store.pg_accounts import PgAccountStore
from engine.store.redis_refresh import RedisRefreshStore
from engine.store.redis_throttle import RedisLoginThrottle
from engine.store.resources import Resources
from tests import services as test_services
from tests.api_server import running_api
from tests.conftest import unique_email

pytestmark = pytest.mark.cluster

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def api(services: test_services.TestServices) -> Iterator[str]:
    with running_api() as base:
        yield base


async def register_over_http(http: httpx.AsyncClient) -> str:
    email = unique_email("victim")
    body = {"role": "customer", "name": "Victim", "email": email, "password": PASSWORD}
    response = await http.post("/auth/register", json=body)
    assert response.status_code == 201, response.text
    return email


@pytest.mark.parametrize("round_", range(5))
async def test_parallel_wrong_passwords_are_checked_at_most_the_limit(
    api: str, round_: int
) -> None:
    """50 wrong passwords at once for one e-mail from one address (a real server, requests
    in parallel): the attempts are counted before their password is checked, so only the
    pair's limit (10) are checked (401) and the other 40 are refused unchecked (429)."""
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        email = await register_over_http(http)
        body = {"email": email, "password": "not-the-password"}
        answers = await asyncio.gather(*(http.post("/auth/login", json=body) for _ in range(50)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * 10 + [429] * 40
    for answer in answers:
        if answer.status_code == 429:
            assert answer.json()["code"] == "rate_limited"
            assert int(answer.headers["retry-after"]) > 0


async def test_over_http_the_customer_logs_in_from_elsewhere_while_an_attacker_is_held(
    api: str,
) -> None:
    """The same policy through the app, addresses given by X-Forwarded-For."""
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        email = await register_over_http(http)

        async def login(password: str, address: str) -> int:
            response = await http.post(
                "/auth/login",
                json={"email": email, "password": password},
                headers={"X-Forwarded-For": address},
            )
            return response.status_code

        attacker = [await login("guess-guess", "203.0.113.9") for _ in range(11)]
        assert attacker == [401] * 10 + [429]
        assert await login(PASSWORD, "203.0.113.9") == 429
        assert await login(PASSWORD, "198.51.100.20") == 200


def accounts_with(
    resources: Resources, per_pair: int, per_email: int, per_address: int
) -> Accounts:
    throttle = RedisLoginThrottle(resources.redis, per_pair, per_email, per_address, 300)
    settings = get_settings()
    return Accounts(
        PgAccountStore(resources.pool),
        resources.passwords,
        throttle,
        settings.jwt_secret,
        60,
        refresh_tokens=RefreshTokens(RedisRefreshStore(resources.redis), 600),
    )


async def registered(accounts: Accounts) -> str:
    email = unique_email("throttled")
    await accounts.register(Registration("customer", "Victim", email, PASSWORD))
    return email


async def fail(accounts: Accounts, email: str, address: str, times: int) -> list[str]:
    outcomes = []
    for _ in range(times):
        try:
            await accounts.login(email, "wrong-password", address)
        except InvalidCredentials:
            outcomes.append("401")
        except TooManyAttempts:
            outcomes.append("429")
    return outcomes


async def test_an_attacker_elsewhere_does_not_lock_the_customer_out(
    resources: Resources,
) -> None:
    """The attacker's address runs out of its pair's attempts; the customer, from their own
    address, logs in, even one never used before, until the per-e-mail ceiling."""
    accounts = accounts_with(resources, per_pair=10, per_email=100, per_address=200)
    email = await registered(accounts)
    assert await fail(accounts, email, "203.0.113.66", 12) == ["401"] * 10 + ["429"] * 2
    with pytest.raises(TooManyAttempts):
        await accounts.login(email, PASSWORD, "203.0.113.66")  # the right one: still held back
    logged_in = await accounts.login(email, PASSWORD, "198.51.100.7")  # a fresh address
    assert isinstance(logged_in, LoginResult)


async def test_the_email_ceiling_holds_back_fresh_addresses_but_not_known_ones(
    resources: Resources,
) -> None:
    accounts = accounts_with(resources, per_pair=3, per_email=6, per_address=200)
    email = await registered(accounts)
    await accounts.login(email, PASSWORD, "192.0.2.10")  # the customer's usual address
    assert await fail(accounts, email, "203.0.113.1", 3) == ["401"] * 3
    assert await fail(accounts, email, "203.0.113.2", 3) == ["401"] * 3
    assert await fail(accounts, email, "203.0.113.3", 1) == ["429"]  # the ceiling: 6
    with pytest.raises(TooManyAttempts):
        await accounts.login(email, PASSWORD, "198.51.100.99")  # fresh: held back too
    assert isinstance(await accounts.login(email, PASSWORD, "192.0.2.10"), LoginResult)


async def test_a_noisy_address_does_not_lock_out_those_who_logged_in_from_it(
    resources: Resources,
) -> None:
    """Behind one NAT address: someone fails on many accounts until the address's ceiling;
    a user who logged in from that address before still can, a newcomer waits."""
    accounts = accounts_with(resources, per_pair=3, per_email=100, per_address=5)
    nat = "100.64.0.1"
    regular, newcomer = await registered(accounts), await registered(accounts)
    await accounts.login(regular, PASSWORD, nat)
    guessed = [await registered(accounts) for _ in range(3)]
    outcomes = [o for email in guessed for o in await fail(accounts, email, nat, 2)]
    assert outcomes == ["401"] * 5 + ["429"]
    assert isinstance(await accounts.login(regular, PASSWORD, nat), LoginResult)
    with pytest.raises(TooManyAttempts):
        await accounts.login(newcomer, PASSWORD, nat)
    assert isinstance(await accounts.login(newcomer, PASSWORD, "192.0.2.55"), LoginResult)


async def test_a_right_password_is_no_failure(resources: Resources) -> None:
    """Counted before the check, a login that passes is taken off the counts again."""
    accounts = accounts_with(resources, per_pair=3, per_email=3, per_address=3)
    email = await registered(accounts)
    for _ in range(10):
        assert isinstance(await accounts.login(email, PASSWORD, "192.0.2.77"), LoginResult)
    assert await fail(accounts, email, "192.0.2.77", 4) == ["401"] * 3 + ["429"]
