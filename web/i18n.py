"""The pages' language: the hook every template's text goes through.

Templates write their text as `{{ _("Sign in") }}`; `translator(language)` returns the
function bound to `_`. English is the only language so far, so the text is returned as
written; a catalogue per language plugs in here, and `language_of` already picks the
visitor's language from a `lang` cookie or Accept-Language among `LANGUAGES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request

LANGUAGES = ("en",)
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "lang"


def language_of(request: Request[Any, Any, Any]) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        for candidate in (tag, tag.split("-")[0]):
            if candidate in LANGUAGES:
                return candidate
    return DEFAULT_LANGUAGE


def translator(language: str) -> Callable[[str], str]:
    """The `_` of a page in `language`: the text itself while English is the only one."""
    return _as_written


def _as_written(text: str) -> str:
    return text
