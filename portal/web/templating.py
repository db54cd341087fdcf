"""Jinja2 set-up: gettext, template globals and filters shared by every page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from babel.numbers import format_currency, parse_pattern
from litestar.plugins.jinja import JinjaTemplateEngine

from portal.auth.permissions import Permission
from portal.auth.roles import DossierRole, FirmRole
from portal.db.paging import PAGE_SIZES
from portal.i18n import LOCALES, current_babel_locale, get_locale, install_gettext, local_date, local_datetime, number
from portal.web.context import current_principal
from portal.web.navigation import menu_count, menu_count_label, navigation

_TENTHS = parse_pattern("#,##0.0")


def cents(value: int | None) -> str:
    """An amount kept in cents, as money: ``1 234,50 €``."""
    return format_currency(Decimal(value or 0) / 100, "EUR", locale=current_babel_locale())


def money(value: Decimal | None) -> str:
    """An amount in euros kept as a ``Decimal`` (fees, invoices), to the cent: ``1 234,50 €``; ``—`` for none."""
    if value is None:
        return "—"
    return format_currency(value, "EUR", locale=current_babel_locale())


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
    env.filters["money"] = money
    env.filters["euros"] = money
    env.filters["number"] = number
    env.filters["tenths"] = tenths
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": True}
    env.trim_blocks = True
    env.lstrip_blocks = True
