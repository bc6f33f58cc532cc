"""What api/app.py mounts: the pages' router, their template engine, their static folder."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Controller, Router
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from web.account_pages import AccountPages
from web.csrf import csrf_guard
from web.errors import WEB_EXCEPTION_HANDLERS
from web.formatting import FILTERS
from web.gate_pages import GatePages
from web.order_pages import OrderPages
from web.panel_events import PanelEventPages
from web.panel_inventory import PanelInventoryPages
from web.panel_live import PanelLivePages
from web.panel_orders import PanelOrderPages
from web.panel_sale import PanelSalePages
from web.panel_staff import PanelStaffPages
from web.store_pages import StorePages

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC_DIRECTORY = HERE / "static"


def page_controllers() -> list[type[Controller]]:
    """Every page handler; a new page area adds its controller here."""
    return [
        AccountPages,
        StorePages,
        OrderPages,
        PanelEventPages,
        PanelInventoryPages,
        PanelSalePages,
        PanelLivePages,
        PanelOrderPages,
        PanelStaffPages,
        GatePages,
    ]


def routes() -> list[object]:
    """One router for every page: each state-changing request is checked for its CSRF token,
    refusals are answered as pages, and no answer is kept by a shared cache."""
    return [
        Router(
            path="/",
            route_handlers=page_controllers(),
            guards=[csrf_guard],
            exception_handlers=WEB_EXCEPTION_HANDLERS,
            cache_control=CacheControlHeader(no_store=True),
            include_in_schema=False,
        )
    ]


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(FILTERS)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))
