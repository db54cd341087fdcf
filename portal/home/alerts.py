"""The KPI alerts of Accueil, from a dossier's latest fiscal year's figures and its N-1's: pure, no database.

- Trésorerie nette negative (when the firm asks for it);
- chiffre d'affaires down more than X % on N-1 at the same date: the months of the latest year up to its
  last month with sales, against the same months (by rank in the year) of N-1;
- DSO above Y days.

X, Y and whether the trésorerie counts are the firm's settings (Paramètres › Alertes du tableau de bord).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from babel.numbers import format_currency, format_decimal

from portal.i18n import _, get_locale, ngettext

HUNDRED = Decimal(100)
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Thresholds:
    revenue_drop_percent: int = 20
    dso_days: int = 60
    negative_cash: bool = True


class AlertKind(StrEnum):
    CASH = "cash"
    REVENUE = "revenue"
    DSO = "dso"


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    value: Decimal  # euros (trésorerie), % of fall (CA), days (DSO)

    def text(self) -> str:
        """The alert in the person's language."""
        locale = get_locale()
        if self.kind is AlertKind.CASH:
            return _("Trésorerie nette négative : %(amount)s") % {
                "amount": format_currency(self.value, "EUR", locale=locale)
            }
        if self.kind is AlertKind.REVENUE:
            return _("Chiffre d'affaires en baisse de %(percent)s %% sur N-1 à date") % {
                "percent": format_decimal(self.value, locale=locale)
            }
        days = ngettext("DSO de %(days)s jour", "DSO de %(days)s jours", int(self.value))
        return days % {"days": format_decimal(self.value, locale=locale)}


@dataclass(frozen=True)
class DossierAlerts:
    """A dossier whose latest fiscal year crosses at least one threshold."""

    dossier_id: uuid.UUID
    dossier_name: str
    end_date: dt.date
    alerts: tuple[Alert, ...]

    @property
    def href(self) -> str:
        return f"/entreprises/{self.dossier_id}/tableau-de-bord"


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def monthly_revenue(figures: Mapping[str, Any] | None) -> list[Decimal]:
    """The year's CA month by month, in order (``ca_mensuel``: ``{"AAAA-MM": "1234.50"}``)."""
    months = (figures or {}).get("ca_mensuel") or {}
    if not isinstance(months, Mapping):
        return []
    return [_amount(months[month]) for month in sorted(months)]


def revenue_drop(current: Mapping[str, Any] | None, previous: Mapping[str, Any] | None) -> Decimal | None:
    """How much (in %, one decimal) the CA of the current year fell on N-1's same months; None when it cannot say.

    The months compared are the current year's up to its last month with sales, and the same ranks of N-1
    (a year of 12 months against one of 12; a shorter N-1 limits the comparison to the months it has).
    """
    now, before = monthly_revenue(current), monthly_revenue(previous)
    with_sales = [rank for rank, amount in enumerate(now) if amount != 0]
    if not with_sales or not before:
        return None
    ranks = min(with_sales[-1] + 1, len(before))
    then = sum(before[:ranks], Decimal(0))
    if then <= 0:
        return None
    drop = (then - sum(now[:ranks], Decimal(0))) * HUNDRED / then
    return drop.quantize(TENTH, rounding=ROUND_HALF_UP)


def alerts_of(
    *,
    tresorerie_cents: int | None,
    dso_days: Decimal | None,
    figures: Mapping[str, Any] | None,
    previous_figures: Mapping[str, Any] | None,
    thresholds: Thresholds,
) -> tuple[Alert, ...]:
    """The alerts a fiscal year raises against ``thresholds``."""
    found: list[Alert] = []
    if thresholds.negative_cash and tresorerie_cents is not None and tresorerie_cents < 0:
        found.append(Alert(AlertKind.CASH, (Decimal(tresorerie_cents) / HUNDRED).quantize(Decimal("0.01"))))
    drop = revenue_drop(figures, previous_figures)
    if drop is not None and drop > thresholds.revenue_drop_percent:
        found.append(Alert(AlertKind.REVENUE, drop))
    if dso_days is not None and dso_days > thresholds.dso_days:
        found.append(Alert(AlertKind.DSO, dso_days))
    return tuple(found)
