"""Every customer-facing text is in each language's catalogue, translated, with the same
%(placeholders)s as its English text (ops/translations.py; `python -m ops.translations
update` after a text changes)."""

from __future__ import annotations

from ops import translations


def test_every_text_is_translated_in_every_language() -> None:
    assert translations.problems() == []


def test_the_extraction_finds_the_texts_of_the_emails() -> None:
    found = {m.id for m in translations.extracted()}
    assert "Your tickets - order %(order)s" in found
    assert "Open my account" in found


def test_a_translation_that_drops_a_placeholder_is_caught() -> None:
    assert translations._placeholders("Order %(order)s of %(name)s") == {"order", "name"}
    assert translations._placeholders(("%(num)s ticket", "%(num)s tickets")) == set()
