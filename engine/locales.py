"""The languages customers read: English by default, Brazilian Portuguese and Spanish.

Every customer-facing text (pages and e-mails) is an English `msgid` looked up in a gettext
catalogue, `engine/translations/<locale>/LC_MESSAGES/messages.po`, the format translators'
tools edit. The catalogues are read with Babel and compiled in memory once a process, so no
build step has to keep a `.mo` file in step with its `.po`. English needs no catalogue: the
msgid is the text.

A visitor's language comes from the switcher's cookie when it names one we have, else from the
browser's `Accept-Language`, else English (`choose_locale`). Prices and moments are written
the way each language writes them, through Babel's CLDR data (`Messages.money`, `.moment`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
# the language tag a page and a cookie carry -> Babel's name of the locale
SUPPORTED: dict[str, str] = {"en": "en", "pt-BR": "pt_BR", "es": "es"}
# what the switcher shows: each language in its own words
NATIVE_NAMES: dict[str, str] = {"en": "English", "pt-BR": "Português (Brasil)", "es": "Español"}
MAX_ACCEPT_LANGUAGE = 500  # characters of the header read; browsers send a few dozen
LOCALE_COOKIE = "boxoffice_locale"


def parse_accept_language(header: str | None) -> list[str]:
    """The header's language tags, most wanted first (RFC 9110 quality values); ties keep
    the order the browser sent. A tag with q=0 is one the reader does not want."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:MAX_ACCEPT_LANGUAGE].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def supported_tag(tag: str | None) -> str | None:
    """The supported language tag `tag` names, case-insensitively (`pt-br`, `pt_BR`), or
    the one of its language when we have a single one (`pt-PT` -> `pt-BR`, `es-MX` -> `es`)."""
    if not tag:
        return None
    wanted = tag.strip().replace("_", "-").lower()
    by_lower = {known.lower(): known for known in SUPPORTED}
    if wanted in by_lower:
        return by_lower[wanted]
    language = wanted.partition("-")[0]
    same_language = [known for known in SUPPORTED if known.lower().partition("-")[0] == language]
    return same_language[0] if len(same_language) == 1 else None


def choose_locale(accept_language: str | None, cookie: str | None = None) -> str:
    """The switcher's choice (cookie), else the browser's first language we have, else
    English: a supported language tag."""
    chosen = supported_tag(cookie)
    if chosen:
        return chosen
    for tag in parse_accept_language(accept_language):
        chosen = supported_tag(tag)
        if chosen:
            return chosen
    return DEFAULT_LOCALE


def _compiled(locale: str) -> NullTranslations:
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    po = TRANSLATIONS / SUPPORTED[locale] / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as source:
        catalogue = read_po(source, locale=SUPPORTED[locale], domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@dataclass(frozen=True, slots=True)
class Messages:
    """One language's texts and ways of writing money and moments."""

    locale: str  # a supported language tag, as pages and cookies carry it
    translations: NullTranslations

    @property
    def babel_locale(self) -> Locale:
        return Locale.parse(SUPPORTED[self.locale])

    def gettext(self, message: str, **values: Any) -> str:
        text = self.translations.ugettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, **values: Any) -> str:
        text = self.translations.ungettext(singular, plural, count)
        return text % {"num": count, **values}

    def money(self, cents: int, currency: str) -> str:
        """`cents` minor units of `currency` as this language writes a price."""
        return str(format_currency(cents / 100, currency, locale=self.babel_locale))

    def moment(self, at: datetime, time_zone: str) -> str:
        """A moment in `time_zone`, weekday to minute, with the zone's abbreviation, as this
        language writes it ("Fri, Jan 15, 2027, 7:00 PM -03")."""
        zone = ZoneInfo(time_zone)
        day = format_skeleton("yMMMEd", at, tzinfo=zone, locale=self.babel_locale)
        hour = format_time(at, "short", tzinfo=zone, locale=self.babel_locale)
        joined = str(self.babel_locale.datetime_formats["medium"]).format(hour, day)
        return f"{joined} {at.astimezone(zone).tzname()}"

    def day(self, at: datetime, time_zone: str) -> str:
        """The date of a moment in `time_zone` ("Jan 15, 2027")."""
        return str(
            format_skeleton("yMMMd", at, tzinfo=ZoneInfo(time_zone), locale=self.babel_locale)
        )


def messages_for(locale: str) -> Messages:
    """The texts of a supported language tag (another one gets English)."""
    return _messages(supported_tag(locale) or DEFAULT_LOCALE)


@cache
def _messages(tag: str) -> Messages:
    return Messages(tag, _compiled(tag))
