"""The API docs pages, /schema/swagger and /schema/scalar, with assets this server serves.

Litestar's render plugins load Swagger UI and Scalar (and a favicon) from CDNs, so the pages
are blank without the internet. Here they load pinned copies vendored from the npm registry
under api/static/vendor/ (versions and checksums in its manifest.json), and the pages'
Content-Security-Policy (api/security_headers.py) lets them load nothing from another host.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.openapi.plugins import (
    OpenAPIRenderPlugin,
    ScalarRenderPlugin,
    SwaggerRenderPlugin,
)

SWAGGER_UI = "swagger-ui-dist@5.35.0"
SCALAR = "scalar-api-reference@1.76.4"
VENDOR_URL = "/static/vendor"

# Scalar's defaults that would reach other hosts: its web fonts, its telemetry, its proxy
SCALAR_OPTIONS: dict[str, Any] = {
    "withDefaultFonts": False,
    "telemetry": False,
    "hideClientButton": True,
    "showDeveloperTools": "never",
    "agent": {"disabled": True},
    "mcp": {"disabled": True},
}


class OfflineScalar(ScalarRenderPlugin):
    """Scalar's standalone bundle carries its styles: the page links no stylesheet."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        options = msgspec.json.encode(self.options or {}).decode()
        return f"""<!DOCTYPE html>
<html>
  <head>
    <title>{openapi_schema["info"]["title"]}</title>
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    {self.style}
  </head>
  <body>
    <script id="api-reference" data-url="{self.get_openapi_json_route(request)}"
      data-configuration='{options}'></script>
    <script src="{self.js_url}"></script>
  </body>
</html>""".encode()


def render_plugins() -> list[OpenAPIRenderPlugin]:
    swagger = f"{VENDOR_URL}/{SWAGGER_UI}"
    return [
        SwaggerRenderPlugin(
            js_url=f"{swagger}/swagger-ui-bundle.js",
            css_url=f"{swagger}/swagger-ui.css",
            standalone_preset_js_url=f"{swagger}/swagger-ui-standalone-preset.js",
            favicon="",
        ),
        OfflineScalar(
            js_url=f"{VENDOR_URL}/{SCALAR}/standalone.js",
            options=SCALAR_OPTIONS,
            favicon="",
        ),
    ]
