"""Translations: French first, English available.

French is the language unless the person chose English (language switch, kept in a cookie
and on their account); the browser's Accept-Language is not followed, so an accountant on
an English-language system still gets the firm's French product.
Message ids are the French texts themselves, so templates read as the product does;
``portal/locale/en`` carries the English. Catalogues are compiled from the ``.po``
files at start-up, so there is no binary to keep in sync.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES: dict[str, str] = {"fr": "Français", "en": "English"}
DEFAULT_LOCALE = "fr"
LOCALE_DIR = Path(__file__).parent / "locale"

_current: ContextVar[str] = ContextVar("portal_locale", default=DEFAULT_LOCALE)


class _FrenchSource(NullTranslations):
    """French, the language of the message ids: no catalogue, but French plurals (0 and 1 take the singular)."""

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return msgid1 if n <= 1 else msgid2


@cache
def translations(locale: str) -> NullTranslations:
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return _FrenchSource() if locale == DEFAULT_LOCALE else NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def get_locale() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return translations(get_locale()).gettext(message)


def ngettext(singular: str, plural: str, number: int) -> str:
    return translations(get_locale()).ngettext(singular, plural, number)


_ = gettext


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a constant for extraction; it is translated where it is shown."""
    return message
