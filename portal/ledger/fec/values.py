"""FEC amounts and dates, read as the DGFiP's tester reads them, and written as the arrêté asks.

Amounts use a decimal comma and no thousands separator; a sign may lead or trail
(``-12,50``, ``12,50-``), zeros may pad (`` 000000000003000,00``) and the tester tolerates
an exponent (``1,5E3``). A point is refused, as the tester has refused it since 2019: in a
file that also uses commas, ``1.234`` could be 1234 or 1,234.

Dates are ``AAAAMMJJ`` by convention. The tester also takes ``AAAA-MM-JJ`` and
``JJ/MM/AAAA``, with ``/``, ``-`` or ``.`` between the parts (or none, in any mix), and an
optional time (``T10:00:00``); it tries the year first, then the day first, years
1900–2099 before any other (only warned about). Its calendar check is loose: it only
bounds the month by 12 and the day by 31, so it lets ``20250230`` and ``20250000``
through. We cannot keep a 30 February in a ledger: every date must exist.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

# Decimal(…) of the digits read, sign included; exponent allowed as the tester allows it.
_NUMBER = re.compile(r"(?P<lead>[+-]?)(?P<int>[0-9]*)(?:,(?P<frac>[0-9]*))?(?P<exp>[eE][+-]?[0-9]+)?(?P<trail>[+-]?)")
_DIGIT_SPACE_DIGIT = re.compile(r"[0-9] +[0-9]")
_PLAIN = re.compile(r"[+-]?[0-9]+(?:,[0-9]+)?[+-]?")
_GROUPING = re.compile(r"[ .,]")
_SEP = r"[/.\-]*"
_TIME = r"(?:[T ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2})?"
_YEAR_FIRST = re.compile(rf"(?P<y>[0-9]{{4}}){_SEP}(?P<m>[01][0-9]){_SEP}(?P<d>[0-3][0-9]){_TIME}")
_DAY_FIRST = re.compile(rf"(?P<d>[0-3][0-9]){_SEP}(?P<m>[01][0-9]){_SEP}(?P<y>[0-9]{{4}}){_TIME}")
_NO_DATE = re.compile(r"[0/.\-]*")  # empty or zeros: no date (allowed where the date is optional)
# Cents from this on are no accounting amount, and would soon not fit the ledger's 64-bit columns
# (the reader's fast path takes up to 19 characters: 16 digits of euros at most).
MAX_CENTS = 10**18
_MAX_EXPONENT = 30


class AmountError(ValueError):
    """Not an amount; ``kind`` says why: ``dot``, ``thousands``, ``not_numeric``, ``decimals`` or ``too_large``."""

    def __init__(self, kind: str, suggestion: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.suggestion = suggestion


class DateError(ValueError):
    """Not a date; ``kind`` is ``format`` (no date shape) or ``calendar`` (no such day)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def parse_amount(text: str) -> Decimal:
    """The amount written ``text`` (stripped; not empty). Raises ``AmountError``."""
    value = text.replace("\xa0", " ").strip()
    if len(_GROUPING.findall(value)) > 1 or _DIGIT_SPACE_DIGIT.search(value):
        suggestion = _without_grouping(value)
        if _PLAIN.fullmatch(suggestion):  # else it is not a grouped number either ("12,50 €")
            raise AmountError("thousands", suggestion)
        raise AmountError("not_numeric")
    if "." in value:
        raise AmountError("dot", value.replace(".", ","))
    match = _NUMBER.fullmatch(value)
    if not match or not (match["int"] or match["frac"]) or (match["lead"] and match["trail"]):
        raise AmountError("not_numeric")
    sign = match["lead"] or match["trail"]
    if match["exp"] and abs(int(match["exp"][1:])) > _MAX_EXPONENT:
        raise AmountError("too_large")
    try:
        return Decimal(f"{sign}{match['int'] or '0'}.{match['frac'] or '0'}{match['exp'] or ''}")
    except InvalidOperation as error:  # cannot happen after the match; kept as the last line of defence
        raise AmountError("not_numeric") from error


def parse_cents(text: str) -> int:
    """``text`` as cents: at most two decimals (zeros beyond them change nothing and are accepted)."""
    cents = parse_amount(text) * 100
    if abs(cents) >= MAX_CENTS:
        raise AmountError("too_large")
    if cents != cents.to_integral_value():
        raise AmountError("decimals")
    return int(cents)


def _without_grouping(value: str) -> str:
    """``1 234,50`` / ``1.234,50`` / ``1,234.50`` as the FEC writes them: ``1234,50``."""
    decimal = re.search(r"[.,]([0-9]{1,2})[+-]?$", value)
    head = value[: decimal.start()] if decimal else value
    digits = re.sub(r"[ .,]", "", head)
    return f"{digits},{decimal[1]}" if decimal else digits


def parse_date(text: str) -> tuple[dt.date | None, bool]:
    """(the date ``text`` writes, whether its year is outside 1900–2099); (None, False) when empty or zeros.

    Raises ``DateError``. The shapes tried, in the tester's order: year first with a year
    in 1900–2099, then day first with such a year, then year first and day first with any
    other year.
    """
    if _NO_DATE.fullmatch(text):
        return None, False
    year_first = _YEAR_FIRST.fullmatch(text)
    day_first = _DAY_FIRST.fullmatch(text)
    candidates = [match for match in (year_first, day_first) if match and match["y"][:2] in {"19", "20"}]
    candidates += [match for match in (year_first, day_first) if match and match not in candidates]
    if not candidates:
        raise DateError("format")
    match = candidates[0]
    year = int(match["y"])
    try:
        day = dt.date(year, int(match["m"]), int(match["d"]))
    except ValueError as error:
        raise DateError("calendar") from error
    return day, not 1900 <= year <= 2099  # noqa: PLR2004 - the tester's period


def format_cents(cents: int) -> str:
    """Cents as a FEC amount: ``123450`` -> ``1234,50``, ``-5`` -> ``-0,05``."""
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    return f"{sign}{units},{rest:02d}"


def format_decimal(value: Decimal) -> str:
    """A currency amount as the file writes it: decimal comma, no exponent (``-1437,12``)."""
    return f"{value:f}".replace(".", ",")


def format_date(day: dt.date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def display_date(day: dt.date) -> str:
    """A date in a message: ``31/12/2024``."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"
