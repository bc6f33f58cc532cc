"""`Allow` on the automatic answer to OPTIONS: every method the path serves.

Litestar 2 answers OPTIONS itself (204 with `Allow`), but on a path whose handlers come from
more than one controller or registration (`/events/{event_id}`: GET, PATCH, DELETE) its
`Allow` lists only the methods of the handlers registered first: the OPTIONS handler is made
with the first route object and keeps reading it after the path's handlers are merged into a
new one. `BoxofficeApp` passes an OPTIONS request's `send` through `with_full_allow`, which
writes the methods of the path's route as the app holds them once built.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from api.route_templates import untyped

Send = Callable[[dict[str, Any]], Awaitable[None]]  # as api/hot_paths.py, which imports this


def with_full_allow(app: Any, scope: dict[str, Any], send: Send) -> Send:
    """`send`, with a 204's `Allow` rewritten to the methods of the route Litestar chose (its
    template is in the scope by then)."""

    async def send_allow(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] == 204:
            methods = methods_of(app, scope.get("path_template"))
            if methods:
                allow = ", ".join(sorted(methods)).encode()
                message["headers"] = [
                    (name, allow if name == b"allow" else value)
                    for name, value in message.get("headers", ())
                ]
        await send(message)

    return send_allow


def methods_of(app: Any, template: str | None) -> Collection[str]:
    """The methods of the route whose template (as the router writes it in the scope, without
    the parameters' types: `/events/{event_id}`) is `template`. OPTIONS is rare: the app's
    routes are looked through each time, so routes registered late are found too."""
    for path, handlers in app.route_handler_method_map.items():
        if untyped(path) == template:
            return [method for method in handlers if method.isupper()]
    return []
