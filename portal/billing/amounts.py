"""How an invoice's amounts are computed, once, for the pages, the PDF, the Factur-X XML and the postings.

A line's total HT is its quantity times its unit price, rounded half up to the cent. VAT is computed per rate
on the sum of that rate's lines and rounded per rate (not line by line), as EN 16931 asks (BR-CO-17: a VAT
breakdown's amount is its base times its rate, rounded to two decimals); the invoice's VAT is the sum of the
rounded per-rate amounts. Everything is ``Decimal``; nothing goes through float.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def cents(value: Decimal) -> Decimal:
    """``value`` rounded half up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(value: Decimal) -> int:
    """``value`` (euros) as an integer number of cents, as the ledger stores amounts."""
    return int(cents(value) * HUNDRED)


def line_total(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return cents(quantity * unit_price)


def revised(price: Decimal, rate: Decimal, years: int) -> Decimal:
    """``price`` raised by ``rate`` percent for each of ``years`` full years since the lettre de mission's start,
    rounded to the cent once at the end."""
    if years <= 0 or not rate:
        return cents(price)
    factor = (Decimal(1) + rate / HUNDRED) ** years
    return cents(price * factor)


class Priced(Protocol):
    @property
    def total_ht(self) -> Decimal: ...

    @property
    def vat_rate(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class VatBreakdown:
    rate: Decimal
    base: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Totals:
    ht: Decimal
    vat: Decimal
    ttc: Decimal
    breakdown: tuple[VatBreakdown, ...]


def totals(lines: Iterable[Priced]) -> Totals:
    """The invoice's totals: HT, VAT per rate (rounded per rate), TTC."""
    bases: dict[Decimal, Decimal] = {}
    for line in lines:
        rate = line.vat_rate.quantize(CENT)
        bases[rate] = bases.get(rate, Decimal("0.00")) + line.total_ht
    breakdown = tuple(
        VatBreakdown(rate=rate, base=cents(base), amount=cents(base * rate / HUNDRED))
        for rate, base in sorted(bases.items(), reverse=True)
    )
    ht = cents(sum((item.base for item in breakdown), Decimal("0.00")))
    vat = cents(sum((item.amount for item in breakdown), Decimal("0.00")))
    return Totals(ht=ht, vat=vat, ttc=ht + vat, breakdown=breakdown)
