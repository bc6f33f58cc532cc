"""The message catalogues: extract every customer-facing text, update each language's `.po`.

    python -m ops.translations update   # after changing texts: .pot and each .po brought up
                                        # to date (new texts untranslated, gone ones dropped)
    python -m ops.translations check    # exit 1 when a text is missing or untranslated

Texts are found where they are written: `gettext(...)` / `ngettext(...)` / `N_(...)` calls in
`engine/` and `web/` Python, `_()` / `gettext()` / `ngettext()` / `{% trans %}` in the
customer-facing templates of `web/templates/` (CUSTOMER_TEMPLATES).
tests/unit/test_translations.py runs the same check, so a text nobody translated fails CI.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from engine.locales import DEFAULT_LOCALE, DOMAIN, SUPPORTED, TRANSLATIONS
from engine.settings import ROOT

# Python marks texts with gettext / ngettext / N_; templates call _() too. `_` is not looked
# for in Python, where it often names a value thrown away.
Keywords = dict[str, tuple[int, ...] | None]
PYTHON_KEYWORDS: Keywords = {"gettext": None, "ngettext": (1, 2), "N_": None}
TEMPLATE_KEYWORDS: Keywords = {"_": None, "gettext": None, "ngettext": (1, 2)}
JINJA = "jinja2.ext:babel_extract"
# the customer-facing templates: the shared layout and sign-in pages, and the storefront's;
# the partner panel and the gate scanner are in English only
CUSTOMER_TEMPLATES = [
    "templates/base.html",
    "templates/_macros.html",
    "templates/sign_in.html",
    "templates/sign_up.html",
    "templates/sign_out.html",
    "templates/error.html",
    "templates/store/**.html",
]
SOURCES: list[tuple[str, list[tuple[str, str]], Keywords]] = [
    ("engine", [("**.py", "python")], PYTHON_KEYWORDS),
    ("web", [("**.py", "python")], PYTHON_KEYWORDS),
    ("web", [(path, JINJA) for path in CUSTOMER_TEMPLATES], TEMPLATE_KEYWORDS),
]
TEMPLATE = TRANSLATIONS / f"{DOMAIN}.pot"
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}


def extracted() -> Catalog:
    """Every text in the sources, as a catalogue template."""
    catalogue = Catalog(project="boxoffice", version="1", domain=DOMAIN, fuzzy=False)
    for folder, methods, keywords in SOURCES:
        base = ROOT / folder
        if not base.exists():
            continue
        found = extract_from_dir(
            str(base),
            method_map=methods,
            options_map={path: JINJA_OPTIONS for path in CUSTOMER_TEMPLATES},
            keywords=keywords,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        )
        for filename, line, message, comments, context in found:
            where = (f"{folder}/{filename}", line)
            catalogue.add(message, None, [where], auto_comments=comments, context=context)
    return catalogue


def po_path(locale: str) -> Path:
    return TRANSLATIONS / SUPPORTED[locale] / "LC_MESSAGES" / f"{DOMAIN}.po"


def translated_languages() -> list[str]:
    return [tag for tag in SUPPORTED if tag != DEFAULT_LOCALE]


def read_catalogue(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale, domain=DOMAIN)


def update() -> None:
    template = extracted()
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    with TEMPLATE.open("wb") as out:
        write_po(out, template, width=100, no_location=True, sort_output=True)
    for tag in translated_languages():
        path = po_path(tag)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            catalogue = read_catalogue(path, SUPPORTED[tag])
        else:
            catalogue = Catalog(
                locale=SUPPORTED[tag], domain=DOMAIN, project="boxoffice", version="1", fuzzy=False
            )
        catalogue.update(template, no_fuzzy_matching=True)
        with path.open("wb") as out:
            write_po(
                out, catalogue, width=100, no_location=True, sort_output=True, ignore_obsolete=True
            )


def problems() -> list[str]:
    """What keeps a language from being complete: texts missing from or untranslated in its
    catalogue, and translations whose %(placeholders)s differ from the English text's."""
    wanted = {_key(m.id) for m in extracted() if m.id}
    found: list[str] = []
    for tag in translated_languages():
        catalogue = read_catalogue(po_path(tag), SUPPORTED[tag])
        have = {_key(m.id): m for m in catalogue if m.id}
        found += [f"{tag}: missing {key!r}" for key in sorted(wanted - have.keys())]
        for key, message in sorted(have.items()):
            if key not in wanted:
                found.append(f"{tag}: no longer used {key!r}")
            elif message.fuzzy or not _all_strings(message.string):
                found.append(f"{tag}: untranslated {key!r}")
            elif _placeholders(message.id) != _placeholders(message.string):
                found.append(f"{tag}: placeholders differ in {key!r}")
    return found


MessageText = str | tuple[str, ...] | list[str]


def _key(message_id: MessageText) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _all_strings(string: MessageText | None) -> bool:
    strings = [string] if isinstance(string, str) or string is None else list(string)
    return all(strings)


def _placeholders(text: MessageText | None) -> set[str]:
    texts = [text] if isinstance(text, str) or text is None else list(text)
    names: set[str] = set()
    for one in texts:
        names |= set(re.findall(r"%\((\w+)\)s", one or ""))
    names.discard("num")  # a plural may spell the count out in the singular
    return names


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        update()
        return 0
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
