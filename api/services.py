"""Where handlers and hot paths get the engine's services: the one `Services` the lifespan
built at start-up (engine/store/services.py), kept in the app's state.

Read directly rather than through a Litestar dependency: a second dependency beside the
caller's (api/auth.py) makes Litestar resolve them in an anyio task group on every request,
which costs more than a claim."""

from __future__ import annotations

from typing import Any

from engine.store.services import Services


def services_of(app: Any) -> Services:
    """The services of `app` (a request's `request.app`, a hot path's `scope["app"]`)."""
    services: Services = app.state.services
    return services
