"""Jinja2 set-up: gettext, template globals and filters shared by every page."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, format_decimal, parse_pattern
from litestar.plugins.jinja import JinjaTemplateEngine

from portal.auth.permissions import Permission
from portal.auth.roles import DossierRole, FirmRole
from portal.i18n import LOCALES, current_babel_locale, get_locale, gettext, local_date, local_datetime, ngettext
from portal.web.context import current_principal
from portal.web.navigation import navigation

_TENTHS = parse_pattern("#,##0.0")


def cents(value: int | None) -> str:
    """An amount kept in cents, as money: ``1 234,50 €``."""
    return format_currency(Decimal(value or 0) / 100, "EUR", locale=current_babel_locale())


def number(value: int | Decimal | None) -> str:
    return format_decimal(value or 0, locale=current_babel_locale())


def tenths(value: Decimal | None) -> str:
    """A rate or a delay to one decimal, as the reader's language writes it: ``12,3``."""
    return str(_TENTHS.apply(value or 0, current_babel_locale()))


def configure(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext=gettext, ngettext=ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        current_principal=current_principal,
        current_locale=get_locale,
        locales=LOCALES,
        navigation=navigation,
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
