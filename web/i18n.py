"""The pages' language: the hook every template's text goes through.

Templates write their text as `{{ _("Sign in") }}` (values as `_("Hello %(name)s", name=...)`);
`translator(language)` returns the function bound to `_`, which looks the text up in that
language's catalogue (engine/locales.py: English, Brazilian Portuguese, Spanish).
`language_of` picks the visitor's language: the switcher's `lang` cookie, else the browser's
Accept-Language, else English. Texts held in Python and translated where they are shown are
marked with `N_` so the catalogues find them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request

from engine.locales import DEFAULT_LOCALE, NATIVE_NAMES, SUPPORTED, choose_locale, messages_for

LANGUAGES = tuple(SUPPORTED)
DEFAULT_LANGUAGE = DEFAULT_LOCALE
LANGUAGE_COOKIE = "lang"
LANGUAGE_NAMES = NATIVE_NAMES


def N_(text: str) -> str:
    """Mark a text for the catalogues; it is translated where it is shown."""
    return text


# shown through `_()` in base.html
ROLE_NAMES = (N_("customer"), N_("partner"), N_("staff"), N_("admin"))


def language_of(request: Request[Any, Any, Any]) -> str:
    return choose_locale(
        request.headers.get("accept-language"), request.cookies.get(LANGUAGE_COOKIE)
    )


def translator(language: str) -> Callable[..., str]:
    """The `_` of a page in `language`."""
    return messages_for(language).gettext
