"""A dossier's fiscal calendar: the fiscal year running on a day, from its closing day and month."""

from __future__ import annotations

import calendar
import datetime as dt

from portal.clients.models import Dossier


def closing_in(dossier: Dossier, year: int) -> dt.date:
    """The dossier's closing date in calendar year ``year`` (31 → 28/29 in February, and so on)."""
    last = calendar.monthrange(year, dossier.closing_month)[1]
    return dt.date(year, dossier.closing_month, min(dossier.closing_day, last))


def fiscal_year_end(dossier: Dossier, on: dt.date) -> dt.date:
    """The closing date of the dossier's fiscal year running on ``on``."""
    this_year = closing_in(dossier, on.year)
    return this_year if on <= this_year else closing_in(dossier, on.year + 1)


def fiscal_year_start(dossier: Dossier, on: dt.date) -> dt.date:
    """The first day of the dossier's fiscal year running on ``on``."""
    return closing_in(dossier, fiscal_year_end(dossier, on).year - 1) + dt.timedelta(days=1)
