"""Jinja2 set-up: gettext, template globals and filters shared by every page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, parse_pattern
from litestar.plugins.jinja import JinjaTemplateEngine

from portal.auth.permissions import Permission
from portal.auth.roles import DossierRole, FirmRole
from portal.db.paging import PAGE_SIZES
from portal.i18n import LOCALES, babel_locale, get_locale, install_gettext, number
from portal.settings import FIRM_TIMEZONE
from portal.web.context import current_principal
from portal.web.navigation import menu_count, menu_count_label, navigation


def current_babel_locale() -> Locale:
    return babel_locale(get_locale())


_TENTHS = parse_pattern("#,##0.0")


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


def cents(value: int | None) -> str:
    """An amount kept in cents, as money: ``1 234,50 €``."""
    return format_currency(Decimal(value or 0) / 100, "EUR", locale=current_babel_locale())


def url_with(base: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), **changes: Any) -> str:
    """``base`` with the list's query parameters, some replaced (``page=2``, ``tri="-nom"``); blanks left out."""
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    pairs = [(key, value) for key, value in pairs if key not in changes] + list(changes.items())
    kept = [(key, value) for key, value in pairs if value is not None and value != ""]
    return f"{base}?{urlencode(kept)}" if kept else base


def tenths(value: Decimal | None) -> str:
    """A rate or a delay to one decimal, as the reader's language writes it: ``12,3``."""
    return str(_TENTHS.apply(value or 0, current_babel_locale()))


def configure(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.add_extension("jinja2.ext.i18n")
    install_gettext(env)
    env.globals.update(
        current_principal=current_principal,
        current_locale=get_locale,
        locales=LOCALES,
        navigation=navigation,
        url_with=url_with,
        PAGE_SIZES=PAGE_SIZES,
        menu_count=menu_count,
        menu_count_label=menu_count_label,
        Permission=Permission,
        DossierRole=DossierRole,
        FirmRole=FirmRole,
    )
    env.filters["datetime"] = local_datetime
    env.filters["date"] = local_date
    env.filters["cents"] = cents
    env.filters["number"] = number
    env.filters["tenths"] = tenths
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": True}
    env.trim_blocks = True
    env.lstrip_blocks = True
