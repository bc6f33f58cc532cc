"""The language a visitor reads (engine/locales.py): the switcher's cookie, else the
browser's Accept-Language with its quality values, else English; texts, prices and moments
as each language writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.locales import (
    NATIVE_NAMES,
    SUPPORTED,
    choose_locale,
    messages_for,
    parse_accept_language,
    supported_tag,
)


def test_accept_language_is_ordered_by_quality_then_as_sent() -> None:
    header = "es;q=0.5, pt-BR, fr;q=0.9, de;q=0, en;q=0.5, *;q=0.1"
    assert parse_accept_language(header) == ["pt-BR", "fr", "es", "en"]
    assert parse_accept_language(None) == []
    assert parse_accept_language("") == []
    assert parse_accept_language("en;q=abc, es") == ["es"]  # a broken q counts as 0


@pytest.mark.parametrize(
    ("header", "cookie", "chosen"),
    [
        (None, None, "en"),
        ("pt-BR,pt;q=0.9,en;q=0.8", None, "pt-BR"),
        ("pt-PT", None, "pt-BR"),  # the one Portuguese we have
        ("pt", None, "pt-BR"),
        ("es-MX,es;q=0.9", None, "es"),
        ("fr-FR, de;q=0.8", None, "en"),  # none we have
        ("fr-FR, es;q=0.3", None, "es"),
        ("es", "pt-br", "pt-BR"),  # the switcher wins, in any letter case
        ("es", "pt_BR", "pt-BR"),
        ("es", "klingon", "es"),  # a cookie naming nothing we have is ignored
        ("en;q=0, es;q=0.1", None, "es"),  # q=0: not wanted
    ],
)
def test_the_locale_is_chosen_from_the_cookie_then_the_header(
    header: str | None, cookie: str | None, chosen: str
) -> None:
    assert choose_locale(header, cookie) == chosen


def test_every_supported_language_has_a_name_in_its_own_words() -> None:
    assert set(NATIVE_NAMES) == set(SUPPORTED)
    assert supported_tag("ES") == "es"
    assert supported_tag(None) is None


def test_texts_are_translated_and_values_filled_in() -> None:
    text = "Hello %(name)s,"
    assert messages_for("en").gettext(text, name="Ana") == "Hello Ana,"
    assert messages_for("pt-BR").gettext(text, name="Ana") == "Olá, Ana,"
    assert messages_for("es").gettext(text, name="Ana") == "Hola, Ana:"
    # a text no catalogue has is shown in English rather than not at all
    assert messages_for("es").gettext("Not in any catalogue") == "Not in any catalogue"
    assert messages_for("xx") is messages_for("en")


def test_prices_are_written_the_way_each_language_writes_them() -> None:
    assert messages_for("en").money(123456, "USD") == "$1,234.56"
    assert messages_for("pt-BR").money(123456, "BRL") == "R$\xa01.234,56"
    assert messages_for("es").money(123456, "EUR") == "1.234,56\xa0€"
    assert messages_for("es").money(1234567, "EUR") == "12.345,67\xa0€"


def test_moments_are_shown_in_the_configured_zone_with_its_name() -> None:
    at = datetime(2027, 3, 14, 23, 30, tzinfo=UTC)
    assert messages_for("en").moment(at, "UTC") == "Sun, Mar 14, 2027, 11:30\u202fPM UTC"
    assert messages_for("pt-BR").moment(at, "America/Sao_Paulo") == (
        "dom., 14 de mar. de 2027 20:30 -03"
    )
    assert messages_for("es").moment(at, "Europe/Madrid") == "lun, 15 mar 2027, 0:30 CET"
    assert messages_for("es").day(at, "Europe/Madrid") == "15 mar 2027"
