"""The server-rendered pages: the partner panel, the gate scanner, the customers' pages and
the sign-in pages every role shares.

Pages are Litestar handlers that render Jinja templates (web/templates/) and call the
engine's services directly (api/services.services_of), never the JSON API over HTTP. They
share one layout, one stylesheet and vendored scripts (web/static/, served under /static/),
a browser session in an HttpOnly cookie (web/sessions.py) and a CSRF token on every request
that changes state (web/csrf.py). api/app.py mounts them with `routes()`,
`template_config()` and `STATIC_DIRECTORY`.
"""

from web.routes import STATIC_DIRECTORY, routes, template_config

__all__ = ["STATIC_DIRECTORY", "routes", "template_config"]
