"""Accounts: registration, login, staff, and disabling or deleting users (operators).
Roles decide what each user may ever do."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

import msgspec

from engine.emails import normalise_email
from engine.errors import (
    AccountDisabled,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
)
from engine.locales import supported_tag
from engine.passwords import Passwords
from engine.principal import Principal, Role
from engine.rate_limits import RateLimiter, RateLimits, enforce
from engine.refresh_tokens import RefreshTokens
from engine.revocation import RevocationCopy, apply_revocation
from engine.tokens import issue_access_token


class User(msgspec.Struct, omit_defaults=True):
    """A user as anyone may see it: never the password or its hash."""

    id: int
    role: Role
    name: str
    email: str
    created_at: datetime
    company_name: str | None = None
    address: str | None = None
    phone: str | None = None
    partner_id: int | None = None

    @property
    def principal(self) -> Principal:
        partner_id = self.id if self.role == "partner" else self.partner_id
        return Principal(user_id=self.id, role=self.role, partner_id=partner_id)


class NewUser(msgspec.Struct, frozen=True):
    role: Role
    name: str
    email: str
    password_hash: str
    company_name: str | None = None
    address: str | None = None
    phone: str | None = None
    partner_id: int | None = None


class Registration(msgspec.Struct, frozen=True):
    role: Literal["partner", "customer"]
    name: str
    email: str
    password: str
    company_name: str | None = None
    address: str | None = None
    phone: str | None = None


class LoginResult(msgspec.Struct, frozen=True):
    """A sign-in's tokens: the access token, and the refresh token that gets the next one
    (`POST /auth/refresh`; engine/refresh_tokens.py)."""

    access_token: str
    expires_in: int
    user: User
    refresh_token: str
    refresh_expires_in: int
    token_type: str = "bearer"


class AccountStore(Protocol):
    async def insert_user(self, new: NewUser) -> User:
        """Insert; raise EmailTaken when the e-mail exists in any letter case."""

    async def user_with_hash(self, email: str) -> tuple[User, str, bool] | None:
        """The user of this e-mail, its password hash, and whether it is disabled."""

    async def user_by_id(self, user_id: int) -> User | None: ...

    async def user_and_disabled(self, user_id: int) -> tuple[User, bool] | None:
        """The user of this id and whether it is disabled (or deleted); None if none."""

    async def set_locale(self, user_id: int, locale: str) -> None:
        """Remember the language this user reads (their e-mails are written in it)."""


class LoginThrottle(Protocol):
    """Failed logins per window, counted before the password is checked so that parallel
    attempts cannot outrun the count (an attempt in flight counts as a failure until it
    passes). The policy, in this order:

    - per (e-mail, client address) pair, a low limit (10 per 5 minutes by default): it
      holds back whoever guesses one account from one place;
    - per e-mail, a much higher ceiling (100), against guessing one account from many
      addresses;
    - per address, a ceiling (200), against one address trying many accounts.

    A pair that logged in lately (30 days) is held back by its own limit only, so an
    attacker elsewhere cannot lock a customer out before a sale, and one noisy address does
    not lock out every user behind it (NAT) who logged in from it before."""

    async def attempt(self, email: str, address: str) -> int:
        """Count an attempt: 0 when it may be checked, else the seconds to wait."""

    async def passed(self, email: str, address: str) -> None:
        """The attempt had the right password: it was no failure."""


def check_registration(data: Registration) -> None:
    if data.role == "partner" and not (data.company_name or "").strip():
        raise InvalidInput("company_name is required for a partner", field="company_name")
    if data.role == "customer" and data.company_name:
        raise InvalidInput("company_name is for partners only", field="company_name")


class Accounts:
    def __init__(
        self,
        store: AccountStore,
        passwords: Passwords,
        throttle: LoginThrottle,
        jwt_secret: str,
        token_ttl_seconds: int,
        limiter: RateLimiter | None = None,
        limits: RateLimits | None = None,
        *,
        refresh_tokens: RefreshTokens,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._throttle = throttle
        self._jwt_secret = jwt_secret
        self._ttl = token_ttl_seconds
        self._limiter = limiter
        self._limits = limits or RateLimits()
        self._refresh = refresh_tokens

    async def register(self, data: Registration, address: str = "") -> User:
        check_registration(data)
        if self._limiter is not None:
            rate = self._limits.register_per_address
            await enforce(self._limiter, "register", address, rate)
        return await self._store.insert_user(
            NewUser(
                role=data.role,
                name=data.name.strip(),
                email=normalise_email(data.email),
                password_hash=await self._passwords.hash(data.password),
                company_name=data.company_name if data.role == "partner" else None,
                address=data.address,
                phone=data.phone,
            )
        )

    async def create_staff(self, partner: Principal, name: str, email: str, password: str) -> User:
        return await self._store.insert_user(
            NewUser(
                role="staff",
                name=name.strip(),
                email=normalise_email(email),
                password_hash=await self._passwords.hash(password),
                partner_id=partner.user_id,
            )
        )

    async def login(self, email: str, password: str, address: str) -> LoginResult:
        email = normalise_email(email)
        if self._limiter is not None:
            await enforce(self._limiter, "login", address, self._limits.login_per_address)
        wait = await self._throttle.attempt(email, address)
        if wait:
            raise TooManyAttempts(wait, "Too many failed logins; try again later")
        found = await self._store.user_with_hash(email)
        ok = await self._passwords.verify(found[1] if found else None, password)
        if not found or not ok:
            raise InvalidCredentials()  # counted as a failure by `attempt`
        user, _, disabled = found
        await self._throttle.passed(email, address)
        if disabled:  # said only to whoever knows the password
            raise AccountDisabled()
        return await self._signed_in(user, await self._refresh.start(user.id))

    async def refresh(self, refresh_token: str) -> LoginResult:
        """A new access token for the sign-in of `refresh_token`, and the refresh token that
        replaces it. Refused when the token is not the sign-in's current one (a spent one
        revokes the sign-in), and when the user was disabled or deleted meanwhile (the
        sign-in is revoked too). The user is read again, so the role is the current one."""
        user_id, successor = await self._refresh.rotate(refresh_token)
        found = await self._store.user_and_disabled(user_id)
        if found is None or found[1]:
            await self._refresh.revoke(successor)
            raise AccountDisabled()
        return await self._signed_in(found[0], successor)

    async def logout(self, refresh_token: str) -> None:
        """End the sign-in: its refresh tokens stop working (access tokens lapse on their
        own, within JWT_TTL_SECONDS)."""
        await self._refresh.revoke(refresh_token)

    async def _signed_in(self, user: User, refresh_token: str) -> LoginResult:
        token = issue_access_token(user.principal, self._jwt_secret, self._ttl)
        return LoginResult(
            access_token=token,
            expires_in=self._ttl,
            user=user,
            refresh_token=refresh_token,
            refresh_expires_in=self._refresh.ttl_seconds,
        )

    async def me(self, principal: Principal) -> User:
        user = await self._store.user_by_id(principal.user_id)
        if user is None:
            raise InvalidCredentials("This account no longer exists")
        return user

    async def set_locale(self, principal: Principal, locale: str) -> None:
        """The language a signed-in user chose (or signed up in): a supported tag, else
        nothing is changed."""
        chosen = supported_tag(locale)
        if chosen is not None:
            await self._store.set_locale(principal.user_id, chosen)


class UserAdminStore(Protocol):
    async def set_disabled(self, email: str, disabled: bool) -> list[int]:
        """Disable (or enable) the user of this e-mail; the ids changed, [] if none."""

    async def delete_user(self, email: str) -> list[int]:
        """Anonymise and disable the user (and a partner's staff); the ids disabled."""

    async def revoked_user_ids(self) -> list[int]: ...


class UserAdmin:
    """What an operator does to users: disable, enable, delete. A deleted user is kept,
    anonymised (its orders and tickets keep their customer), and disabled like the staff of
    a deleted partner. The tokens of a disabled user stop working within about a second
    (engine/revocation.py)."""

    def __init__(self, store: UserAdminStore, copy: RevocationCopy) -> None:
        self._store = store
        self._copy = copy

    async def disable(self, email: str) -> list[int]:
        email = normalise_email(email)
        return await self._publish(await self._store.set_disabled(email, True), email, True)

    async def enable(self, email: str) -> list[int]:
        email = normalise_email(email)
        return await self._publish(await self._store.set_disabled(email, False), email, False)

    async def delete(self, email: str) -> list[int]:
        email = normalise_email(email)
        return await self._publish(await self._store.delete_user(email), email, True)

    async def _publish(self, user_ids: list[int], email: str, revoked: bool) -> list[int]:
        if not user_ids:
            raise NotFound(f"No user {email}")
        await apply_revocation(self._copy, self._store, user_ids, revoked)
        return user_ids


class StaffMember(msgspec.Struct):
    """A gate account as its partner sees it."""

    id: int
    name: str
    email: str
    created_at: datetime
    disabled: bool


class StaffStore(Protocol):
    async def staff_of(self, partner_id: int) -> list[StaffMember]:
        """The partner's staff accounts, oldest first (deleted ones left out)."""

    async def disable_staff(self, partner_id: int, staff_id: int) -> list[int]:
        """Disable the account if it is this partner's staff: [its id], else []."""

    async def revoked_user_ids(self) -> list[int]: ...


class StaffAccounts:
    """What a partner does with its gate accounts besides creating them (Accounts): list and
    disable. A disabled account's sessions and tokens stop working within about a second
    (engine/revocation.py)."""

    def __init__(self, store: StaffStore, copy: RevocationCopy) -> None:
        self._store = store
        self._copy = copy

    @staticmethod
    def _partner_id(partner: Principal) -> int:
        if partner.role != "partner" or partner.partner_id is None:
            raise PermissionDenied("Only a partner manages its staff")
        return partner.partner_id

    async def list(self, partner: Principal) -> list[StaffMember]:
        return await self._store.staff_of(self._partner_id(partner))

    async def disable(self, partner: Principal, staff_id: int) -> None:
        changed = await self._store.disable_staff(self._partner_id(partner), staff_id)
        if not changed:
            raise NotFound("No such staff account")
        await apply_revocation(self._copy, self._store, changed, True)
