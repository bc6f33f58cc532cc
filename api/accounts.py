"""Accounts: register, log in, refresh and log out, who am I, staff."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.params import JSONBody

from api.auth import AsPartner, AsUser
from api.services import services_of
from api.types import NO_NUL, Email, Name, Password, Phone, ShortText
from engine.accounts import LoginResult, Registration, User


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


class RefreshIn(msgspec.Struct):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class StaffIn(msgspec.Struct):
    name: Name
    email: Email
    password: Password


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class AccountController(Controller):
    tags = ["accounts"]

    @post("/auth/register", status_code=201)
    async def register(self, request: Request[Any, Any, Any], data: JSONBody[RegisterIn]) -> User:
        registration = Registration(**msgspec.structs.asdict(data))
        return await services_of(request.app).accounts.register(
            registration, client_address(request)
        )

    @post("/auth/login", status_code=200, cache_control=CacheControlHeader(no_store=True))
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginIn],
    ) -> LoginResult:
        return await services_of(request.app).accounts.login(
            data.email, data.password, client_address(request)
        )

    @post("/auth/refresh", status_code=200, cache_control=CacheControlHeader(no_store=True))
    async def refresh(
        self, request: Request[Any, Any, Any], data: JSONBody[RefreshIn]
    ) -> LoginResult:
        """A new access token and the refresh token that replaces this one (rotation)."""
        return await services_of(request.app).accounts.refresh(data.refresh_token)

    @post("/auth/logout", status_code=204)
    async def logout(self, request: Request[Any, Any, Any], data: JSONBody[RefreshIn]) -> None:
        """End the sign-in of this refresh token: none of its refresh tokens works again."""
        await services_of(request.app).accounts.logout(data.refresh_token)

    @get("/me")
    async def me(self, request: Request[Any, Any, Any], user: AsUser) -> User:
        return await services_of(request.app).accounts.me(user)

    @post("/partner/staff", status_code=201)
    async def create_staff(
        self, request: Request[Any, Any, Any], partner: AsPartner, data: JSONBody[StaffIn]
    ) -> User:
        return await services_of(request.app).accounts.create_staff(
            partner, data.name, data.email, data.password
        )
