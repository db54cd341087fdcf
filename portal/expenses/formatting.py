"""Amounts, kilometres and barème formulas as the expense pages show them, in the person's language."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, format_decimal

from portal.expenses.mileage import Band
from portal.i18n import get_locale


def money(value: Decimal | None) -> str:
    """``1 234,50 €`` (or ``€1,234.50`` in English)."""
    return format_currency(value or Decimal(0), "EUR", locale=get_locale())


def number(value: Decimal | int) -> str:
    return format_decimal(value, locale=get_locale())


def formula(band: Band) -> str:
    """A band of the barème: ``d × 0,636`` or ``d × 0,357 + 1 395``."""
    text = f"d × {number(band.rate)}"
    if band.fixed:
        text += f" + {number(band.fixed)}"
    return text


def csv_amount(value: Decimal) -> str:
    """An amount for French spreadsheets and accounting imports: decimal comma, no grouping (``1234,50``)."""
    return f"{value:.2f}".replace(".", ",")


TEMPLATE_HELPERS = {"money": money, "number": number, "formula": formula}
"""Functions the expense templates call (passed in their context: they are this domain's only)."""
