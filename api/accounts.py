"""Accounts: register, log in, who am I, staff."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from api.auth import AsPartner, AsUser
from api.types import NO_NUL, Email, Name, Password, Phone, ShortText
from engine.accounts import Accounts, LoginResult, Registration, User
from engine.store.pg_accounts import PgAccountStore
from engine.store.redis_rate_limit import RedisRateLimiter
from engine.store.redis_throttle import RedisLoginThrottle


class RegisterIn(msgspec.Struct, forbid_unknown_fields=False):
    role: Literal["partner", "customer"]
    name: Name
    email: Email
    password: Password
    company_name: Name | None = None
    address: ShortText | None = None
    phone: Phone | None = None


class LoginIn(msgspec.Struct):
    # login accepts any string so that a wrong shape is a plain 401, not a hint
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=254, pattern=NO_NUL)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class StaffIn(msgspec.Struct):
    name: Name
    email: Email
    password: Password


def provide_accounts(request: Request[Any, Any, Any]) -> Accounts:
    """One per process, built on first use."""
    state = request.app.state
    if "accounts" not in state:
        resources = state.resources
        settings = resources.settings
        throttle = RedisLoginThrottle(
            resources.redis,
            settings.login_limit_per_pair,
            settings.login_limit_per_email,
            settings.login_limit_per_address,
            settings.login_window_seconds,
        )
        state.accounts = Accounts(
            PgAccountStore(resources.pool),
            resources.passwords,
            throttle,
            settings.jwt_secret,
            settings.jwt_ttl_seconds,
            RedisRateLimiter(resources.redis),
            settings.rate_limits,
        )
    accounts: Accounts = state.accounts
    return accounts


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


AccountsDep = NamedDependency[Accounts]


class AccountController(Controller):
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}
    tags = ["accounts"]

    @post("/auth/register", status_code=201)
    async def register(
        self, request: Request[Any, Any, Any], data: JSONBody[RegisterIn], accounts: AccountsDep
    ) -> User:
        registration = Registration(**msgspec.structs.asdict(data))
        return await accounts.register(registration, client_address(request))

    @post("/auth/login", status_code=200, cache_control=CacheControlHeader(no_store=True))
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginIn],
        accounts: AccountsDep,
    ) -> LoginResult:
        return await accounts.login(data.email, data.password, client_address(request))

    @get("/me")
    async def me(self, user: AsUser, accounts: AccountsDep) -> User:
        return await accounts.me(user)

    @post("/partner/staff", status_code=201)
    async def create_staff(
        self, partner: AsPartner, data: JSONBody[StaffIn], accounts: AccountsDep
    ) -> User:
        return await accounts.create_staff(partner, data.name, data.email, data.password)
