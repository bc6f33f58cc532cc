"""The panel's staff: the partner's gate accounts, created, listed and disabled here."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from api.accounts import StaffIn
from api.services import services_of
from api.types import PathId
from engine.errors import BoxofficeError, EmailTaken, InvalidInput
from engine.principal import Principal
from web.forms import convert, field_errors, filled
from web.notices import notice
from web.pages import render
from web.panel_common import form_action, partner_of
from web.panel_events import Done


class PanelStaffPages(Controller):
    path = "/panel/staff"
    include_in_schema = False

    async def _page(
        self,
        request: Request[Any, Any, Any],
        status: int = 200,
        done: str | None = None,
        form: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        error: str | None = None,
    ) -> Template:
        partner = await partner_of(request)
        members = await services_of(request.app).staff.list(partner)
        return await render(
            request,
            "panel/staff.html",
            status,
            members=members,
            form=form or {},
            errors=errors or {},
            error=error,
            notice=notice(done),
        )

    @get("/")
    async def staff(self, request: Request[Any, Any, Any], done: Done = None) -> Template:
        return await self._page(request, done=done)

    @post("/")
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        async def add(partner: Principal, fields: dict[str, str]) -> None:
            data = convert(filled(fields), StaffIn)
            await services_of(request.app).accounts.create_staff(
                partner, data.name, data.email, data.password
            )

        async def refused(status: int, exc: BoxofficeError, fields: dict[str, str]) -> Template:
            errors = field_errors(exc) if isinstance(exc, InvalidInput) else None
            return await self._page(request, status, form=fields, errors=errors, error=exc.detail)

        refusals = (InvalidInput, EmailTaken)
        return await form_action(request, add, "/panel/staff", "staff_added", refused, refusals)

    @post("/{staff_id:int}/disable")
    async def disable(self, request: Request[Any, Any, Any], staff_id: PathId) -> Response[Any]:
        partner = await partner_of(request)
        await services_of(request.app).staff.disable(partner, staff_id)
        return Redirect("/panel/staff?done=staff_disabled", status_code=303)
