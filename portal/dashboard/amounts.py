"""Numbers as people type them in the objectives form, the budget grid and its CSV: French first.

``12 345,67``, ``12345,67``, ``12345.67``, ``-1 200`` and ``1 200 €`` all read as the same kind of
``Decimal``; never through ``float``. A value with both a comma and a point (``1.234,56``) is
refused rather than guessed. Messages are French msgids (``N_``), shown beside their field.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_decimal

from portal.i18n import N_, get_locale

# What a cell or a field may hold (the templates' ``maxlength``): digits, spaces, sign, separator, unit.
NUMBER_MAX_LENGTH = 30
CENT = Decimal("0.01")
CENT_DIGITS = 2
# Numeric(18, 2) for objectives; BigInteger cents for the budget: both far above any real figure.
MAX_ABS = Decimal("9999999999999.99")

NOT_A_NUMBER = N_("Valeur invalide : saisissez un nombre, par exemple 12 345,67.")
TOO_PRECISE = N_("Valeur invalide : deux décimales au plus.")
TOO_LARGE = N_("Valeur trop grande.")

_SPACES = re.compile(r"[\s\u00a0\u202f'€%]")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")


class NumberError(ValueError):
    """A value that is not a number this form accepts; ``message`` is its French msgid."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_number(value: str) -> Decimal | None:
    """``12 345,67`` → ``Decimal("12345.67")``; blank → None; ``NumberError`` when it is not a number.

    Spaces of any kind (thousands), a euro or percent sign and an apostrophe are ignored; a comma or
    a point is the decimal separator, two decimals at most.
    """
    cleaned = _SPACES.sub("", value)
    if not cleaned:
        return None
    if not _NUMBER.fullmatch(cleaned):
        raise NumberError(NOT_A_NUMBER)
    try:
        number = Decimal(cleaned.replace(",", "."))
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only numbers
        raise NumberError(NOT_A_NUMBER) from error
    if number.as_tuple().exponent < -CENT_DIGITS:  # type: ignore[operator]
        raise NumberError(TOO_PRECISE)
    if abs(number) > MAX_ABS:
        raise NumberError(TOO_LARGE)
    return number.quantize(CENT)


def to_cents(value: Decimal) -> int:
    """Euros → integer cents, rounded half up (the way a prévisionnel is rounded)."""
    return int(value.quantize(CENT, rounding=ROUND_HALF_UP) * 100)


def from_cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(CENT)


def typed(value: Decimal | None) -> str:
    """A value as it is shown back in a field: ``12345,67`` (no grouping, a decimal comma), blank for None."""
    if value is None:
        return ""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def csv_amount(cents: int | None) -> str:
    """An amount in a budget CSV: ``12345,67`` (decimal comma, no grouping), blank when there is none."""
    if cents is None:
        return ""
    return f"{from_cents(cents):f}".replace(".", ",")


def shown(value: Decimal | None, places: int = 2) -> str:
    """A number in the person's language, grouped (``12 345,67``); ``—`` when there is none."""
    if value is None:
        return "—"
    pattern = "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(value, format=pattern, locale=get_locale())
