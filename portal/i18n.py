"""Translations: French first, English available.

French is the language unless the person chose English (language switch, kept in a cookie
and on their account); the browser's Accept-Language is not followed, so an accountant on
an English-language system still gets the firm's French product.
Message ids are the French texts themselves, so templates read as the product does;
``portal/locale/en`` carries the English. Catalogues are compiled from the ``.po``
files at start-up, so there is no binary to keep in sync.
"""

from __future__ import annotations

import datetime as dt
import io
from contextvars import ContextVar
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from portal.settings import FIRM_TIMEZONE

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


@lru_cache(maxsize=8)
def babel_locale(code: str) -> Locale:
    """A locale parsed once: babel parses a locale given by name on every number or date it formats, which a list
    of a few hundred figures pays tens of milliseconds for."""
    return Locale.parse(code)


def number(value: int | Decimal | None) -> str:
    """A count or a number as the reader's language writes it: ``11 982`` in French, ``11,982`` in English.

    Every count the portal shows goes through it (the ``number`` filter of templates, and ``ngettext``'s ``num``)."""
    return format_decimal(value or 0, locale=babel_locale(get_locale()))


@pass_context
def _counted(context: Context, singular: str, plural: str, count: int, **variables: Any) -> str:
    """``ngettext`` for templates: the plural form for ``count``, its ``%(num)s`` written by ``number``."""
    variables.setdefault("num", number(count))
    text = ngettext(singular, plural, count)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - the catalogue's message, as Jinja's ngettext: the values are escaped
    return text % variables


def install_gettext(env: Environment) -> None:
    """Give templates ``_``/``gettext`` and ``ngettext`` (newstyle: ``%(name)s`` placeholders filled and escaped),
    the count of ``ngettext`` written as the reader's language writes numbers (``%(num)s``: ``11 982``)."""
    env.install_gettext_callables(gettext=gettext, ngettext=ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["ngettext"] = _counted


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a constant for extraction; it is translated where it is shown."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - as N_, for a message with a count
    """Mark a constant that holds a count for extraction: shown with ``ngettext(*CONSTANT, count)``."""
    return singular, plural


def current_babel_locale() -> Locale:
    return babel_locale(get_locale())


def local_datetime(value: dt.datetime | str | None, pattern: str = "dd/MM/yyyy HH:mm") -> str:
    """A moment in the firm's time zone; also one kept as ISO text (in a session)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return format_datetime(value.astimezone(FIRM_TIMEZONE), pattern, locale=current_babel_locale())


def local_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(FIRM_TIMEZONE).date()
    return format_date(value, "dd/MM/yyyy", locale=current_babel_locale())
