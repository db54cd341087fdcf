"""The fees of a lettre de mission, worked out once for the editor, the list, the PDF and the billing run.

A mission billed monthly is billed 12 times a year, quarterly 4 times, yearly once; a mission billed per act
has no yearly amount (it is billed when the act is done). A billing's amount is ``quantity × unit price``
rounded to the cent (``amounts.line_total``); the yearly fees are that times the billings of a year, and the
VAT of a year is computed per rate on those yearly bases (``amounts.totals``), as an invoice's is.

Dates are read by month: a letter runs from the month of its start date to the month before its renewal date
(a letter of 15 March 2026 renewed on 15 March 2027 bills March 2026 to February 2027: twelve months, and the
renewal bills from March 2027, never the same month twice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from portal.billing.amounts import Totals, line_total, totals
from portal.billing.fee_models import Rhythm

ZERO = Decimal("0.00")
MONTHS_IN_YEAR = 12
BILLINGS_PER_YEAR = {Rhythm.MONTHLY: 12, Rhythm.QUARTERLY: 4, Rhythm.YEARLY: 1, Rhythm.PER_ACT: 0}


class Priced(Protocol):
    """What a mission needs to be priced (a ``Mission`` row, or a mission being typed)."""

    @property
    def quantity(self) -> Decimal: ...

    @property
    def unit_price(self) -> Decimal: ...

    @property
    def vat_rate(self) -> Decimal: ...

    @property
    def rhythm(self) -> Rhythm: ...


def billing_ht(mission: Priced) -> Decimal:
    """What one billing of the mission comes to, HT."""
    return line_total(mission.quantity, mission.unit_price)


def yearly_ht(mission: Priced) -> Decimal:
    """What the mission comes to in a year, HT (nothing for a mission billed per act)."""
    return billing_ht(mission) * BILLINGS_PER_YEAR[mission.rhythm]


@dataclass(frozen=True, slots=True)
class _Base:
    total_ht: Decimal
    vat_rate: Decimal


@dataclass(frozen=True, slots=True)
class RhythmFees:
    """The missions billed at one rhythm: what each billing comes to, and what a year does (HT)."""

    rhythm: Rhythm
    per_billing_ht: Decimal
    yearly_ht: Decimal


@dataclass(frozen=True, slots=True)
class Fees:
    """A letter's fees: per rhythm, and per year HT, VAT (per rate) and TTC."""

    rhythms: tuple[RhythmFees, ...]
    year: Totals

    @property
    def yearly_ht(self) -> Decimal:
        return self.year.ht


def fees(missions: Iterable[Priced]) -> Fees:
    """The fees of ``missions``: per rhythm (in the order monthly, quarterly, yearly, per act), then per year."""
    missions = list(missions)
    rhythms = []
    for rhythm in Rhythm:
        chosen = [mission for mission in missions if mission.rhythm is rhythm]
        if chosen:
            per_billing = sum((billing_ht(mission) for mission in chosen), ZERO)
            rhythms.append(RhythmFees(rhythm, per_billing, per_billing * BILLINGS_PER_YEAR[rhythm]))
    year = totals(_Base(yearly_ht(mission), mission.vat_rate) for mission in missions if yearly_ht(mission))
    return Fees(tuple(rhythms), year)


# --- months -------------------------------------------------------------------------------------


def month_index(day: dt.date) -> int:
    """Months since year 0: consecutive months have consecutive indexes."""
    return day.year * MONTHS_IN_YEAR + day.month - 1


def months_of(start: dt.date, end: dt.date) -> tuple[int, int]:
    """The first and last months of a period: those whose first day lies in ``[start, end]``."""
    return month_index(start) + (start.day > 1), month_index(end)


def month_start(index: int) -> dt.date:
    """The first day of the month ``index``."""
    return dt.date(index // MONTHS_IN_YEAR, index % MONTHS_IN_YEAR + 1, 1)


def month_end(index: int) -> dt.date:
    """The last day of the month ``index``."""
    return month_start(index + 1) - dt.timedelta(days=1)


def add_years(day: dt.date, years: int) -> dt.date:
    """``day`` ``years`` years on; a 29 February becomes the 28th in a year without one."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def full_years(start: dt.date, end: dt.date) -> int:
    """Whole years from ``start`` to ``end`` (0 when ``end`` is before the first anniversary)."""
    years = end.year - start.year - ((end.month, end.day) < (start.month, start.day))
    return max(years, 0)
