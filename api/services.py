"""Where handlers and hot paths get the engine's services: the one `Services` the lifespan
built at start-up (engine/store/services.py), kept on the app.

Read directly rather than through a Litestar dependency: a second dependency beside the
caller's (api/auth.py) makes Litestar resolve them in an anyio task group on every request,
which costs more than a claim. A plain attribute of the app rather than an entry of
`app.state`, whose look-up costs ten times as much, on every hot-path request."""

from __future__ import annotations

from typing import Any

from engine.store.services import Services


def keep_services(app: Any, services: Services) -> None:
    """Called once, by the lifespan (api/app.py)."""
    app.boxoffice_services = services


def services_of(app: Any) -> Services:
    """The services of `app` (a request's `request.app`, a hot path's `scope["app"]`)."""
    services: Services = app.boxoffice_services
    return services
