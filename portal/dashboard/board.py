"""The Tableau de bord of a dossier: its figures for one fiscal year beside N-1, what they are made of, and charts.

``BoardService`` reads what the page needs besides the ledger's figures (objectives, budget, the
last import, the Pennylane connection); the functions below turn ``Figures`` into what a reader
reads: French-formatted values, differences, objective progress, and the charts of
``portal.web.charts``. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.dashboard.models import BudgetLine, Objective
from portal.dashboard.objectives import objective_progress
from portal.i18n import N_, _, current_babel_locale
from portal.integrations.models import Connection, ConnectionStatus, Provider
from portal.ledger import figures as formulas
from portal.ledger.figures import BY_KEY, DEFINITIONS, GROUPS, Figures, Kind, Term
from portal.ledger.models import FiscalYear, ImportStatus, LedgerImport
from portal.settings import FIRM_TIMEZONE
from portal.web import charts
from portal.web.charts import Chart, Series, format_value

UNITS = {Kind.AMOUNT: "€", Kind.RATE: "%", Kind.DAYS: "j"}
SYNC_HOUR = 6  # Pennylane connections are synchronised every morning at 06:00, the firm's time
NO_DIVISOR = N_("Non calculable : le diviseur de la formule est nul sur cet exercice.")
NO_PREVIOUS = N_("Pas d'exercice précédent importé.")
PERCENT_POINT = "pt"


# --- what the page reads -------------------------------------------------------------------


@dataclass(frozen=True)
class Sync:
    """The last synchronisation (import) of the dossier's ledger and the next one."""

    last_at: dt.datetime | None
    last_source: str | None
    scheduled: bool
    next_at: dt.datetime | None


class BoardService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def objectives(self, dossier_id: uuid.UUID, end_date: dt.date) -> dict[str, Decimal]:
        """The objectives set for the fiscal year closing on ``end_date``, by figure key."""
        statement = select(Objective.key, Objective.target).where(
            Objective.dossier_id == dossier_id, Objective.end_date == end_date
        )
        return {key: Decimal(target) for key, target in (await self.session.execute(statement)).all()}

    async def budget(self, dossier_id: uuid.UUID, end_date: dt.date, key: str) -> dict[str, Decimal]:
        """The budget of ``key`` for that fiscal year by month (``AAAA-MM`` → euros)."""
        statement = select(BudgetLine.month, BudgetLine.amount).where(
            BudgetLine.dossier_id == dossier_id, BudgetLine.end_date == end_date, BudgetLine.key == key
        )
        return {
            f"{month:%Y-%m}": Decimal(amount) / 100 for month, amount in (await self.session.execute(statement)).all()
        }

    async def sync(self, dossier_id: uuid.UUID, *, now: dt.datetime | None = None) -> Sync:
        last = (
            await self.session.execute(
                select(LedgerImport)
                .where(LedgerImport.dossier_id == dossier_id, LedgerImport.status == ImportStatus.SUCCEEDED)
                .order_by(LedgerImport.finished_at.desc().nulls_last(), LedgerImport.created_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        connected = await self.session.scalar(
            select(Connection.id).where(
                Connection.dossier_id == dossier_id,
                Connection.provider == Provider.PENNYLANE,
                Connection.status == ConnectionStatus.CONNECTED,
            )
        )
        return Sync(
            last_at=(last.finished_at or last.created_at) if last else None,
            last_source=last.source.label if last else None,
            scheduled=connected is not None,
            next_at=next_sync(now or dt.datetime.now(dt.UTC)) if connected is not None else None,
        )


def next_sync(now: dt.datetime) -> dt.datetime:
    """The next 06:00 in Europe/Paris after ``now`` (summer or winter time alike)."""
    local = now.astimezone(FIRM_TIMEZONE)
    candidate = dt.datetime.combine(local.date(), dt.time(SYNC_HOUR), tzinfo=FIRM_TIMEZONE)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(SYNC_HOUR), tzinfo=FIRM_TIMEZONE)
    return candidate


# --- figures as read -----------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    target: str
    percent: int  # of the way to the objective, 0..100 for the bar
    shown: str  # « 82 % »
    reached: bool


@dataclass(frozen=True)
class Card:
    key: str
    label: str
    formula: str
    value: str
    missing: str | None  # why there is no value, for a title
    previous: str
    previous_missing: str | None
    difference: str
    percent: str
    trend: str  # "up", "down" or ""
    objective: Progress | None


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    cards: tuple[Card, ...]


def unit_of(key: str) -> str:
    return UNITS[BY_KEY[key].kind]


def short_label(year: FiscalYear) -> str:
    """``2025`` for a calendar year, ``2021-22`` for a year across two."""
    if year.start_date.year == year.end_date.year:
        return str(year.end_date.year)
    return f"{year.start_date.year}-{year.end_date:%y}"


def _difference(key: str, value: Decimal | None, previous: Decimal | None) -> tuple[str, str, str]:
    if value is None or previous is None:
        return "—", "—", ""
    kind = BY_KEY[key].kind
    change = value - previous
    trend = "up" if change > 0 else "down" if change < 0 else ""
    if kind is Kind.RATE:  # a rate moves by points; a percentage of a percentage misleads
        return format_value(change, PERCENT_POINT, signed=True), "—", trend
    percent = (
        "—"
        if previous == 0
        else format_value((change / abs(previous) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP), "%", signed=True)
    )
    return format_value(change, unit_of(key), signed=True), percent, trend


def progress(key: str, value: Decimal | None, target: Decimal) -> Progress:
    """The card's view of ``objective_progress``, the one rule every page showing an objective follows."""
    unit = unit_of(key)
    reached = objective_progress(key, value, target)
    if reached.percent is None:
        return Progress(format_value(target, unit), 0, "—", reached=bool(reached.achieved))
    percent = int(reached.percent.to_integral_value(rounding=ROUND_HALF_UP))
    return Progress(format_value(target, unit), reached.bar, f"{max(percent, 0)}\u202f%", bool(reached.achieved))


def groups(figures: Figures, previous: Figures | None, objectives: Mapping[str, Decimal]) -> list[Group]:
    """The figures of the year, each beside N-1, grouped as ``figures.GROUPS`` say."""
    result: list[Group] = []
    for group_key, group_label in GROUPS:
        cards: list[Card] = []
        for definition in DEFINITIONS:
            if definition.group != group_key:
                continue
            key, unit = definition.key, UNITS[definition.kind]
            value = figures.values.get(key)
            before = previous.values.get(key) if previous is not None else None
            difference, percent, trend = _difference(key, value, before)
            target = objectives.get(key)
            cards.append(
                Card(
                    key=key,
                    label=_(definition.label),
                    formula=_(definition.formula),
                    value=format_value(value, unit),
                    missing=_(NO_DIVISOR) if value is None else None,
                    previous=format_value(before, unit),
                    previous_missing=None if before is not None else _(NO_PREVIOUS if previous is None else NO_DIVISOR),
                    difference=difference,
                    percent=percent,
                    trend=trend,
                    objective=progress(key, value, target) if target is not None else None,
                )
            )
        if cards:
            result.append(Group(group_key, _(group_label), tuple(cards)))
    return result


# --- charts ------------------------------------------------------------------------------------------


def month_label(month: str) -> str:
    """``2025-03`` as ``mars``."""
    return format_date(dt.date.fromisoformat(f"{month}-01"), "MMM", locale=current_babel_locale())


def _aligned(values: Mapping[str, Decimal | None] | None, months: Sequence[str], count: int) -> list[Decimal | None]:
    """N-1's months set beside N's by position (the first month of each year together)."""
    if values is None:
        return [None] * count
    ordered = [values.get(month) for month in months]
    return (ordered + [None] * count)[:count]


def _cumulative(values: Sequence[Decimal | None]) -> list[Decimal | None]:
    total, result = Decimal(0), list[Decimal | None]()
    for value in values:
        total += value or 0
        result.append(total)
    return result


def revenue_by_month(
    year: FiscalYear, figures: Figures, previous_year: FiscalYear | None, previous: Figures | None
) -> Chart:
    months = figures.months()
    series = [Series(short_label(year), [figures.monthly["chiffre_affaires"].get(month) for month in months])]
    if previous is not None and previous_year is not None:
        series.append(
            Series(
                short_label(previous_year),
                _aligned(previous.monthly["chiffre_affaires"], previous.months(), len(months)),
            )
        )
    return charts.bars(_("Chiffre d'affaires par mois"), [month_label(month) for month in months], series)


def revenue_against_plan(  # noqa: PLR0917 - the year, N-1 and the two plans, each a chart's series
    year: FiscalYear,
    figures: Figures,
    previous_year: FiscalYear | None,
    previous: Figures | None,
    objective: Decimal | None,
    budget: Mapping[str, Decimal],
) -> Chart:
    """Cumulative CA beside N-1's, the objective spread evenly over the months, and the budget."""
    months = figures.months()
    count = len(months)
    series = [
        Series(
            short_label(year), _cumulative([figures.monthly["chiffre_affaires"].get(month) for month in months]), "line"
        )
    ]
    if previous is not None and previous_year is not None:
        aligned = _aligned(previous.monthly["chiffre_affaires"], previous.months(), count)
        series.append(Series(short_label(previous_year), _cumulative(aligned), "line"))
    if objective is not None:
        series.append(
            Series(
                _("Objectif"),
                [(objective * (index + 1) / count).quantize(Decimal("0.01")) for index in range(count)],
                "line",
            )
        )
    if budget:
        series.append(Series(_("Budget"), _cumulative([budget.get(month) for month in months]), "line"))
    return charts.lines(_("Chiffre d'affaires cumulé"), [month_label(month) for month in months], series)


def cascade(figures: Figures) -> Chart:
    """The SIG cascade as ``figures.cascade`` lays it out, from the chiffre d'affaires to the résultat net."""
    steps = formulas.cascade(figures)
    return charts.waterfall(
        _("Du chiffre d'affaires au résultat net"),
        [(_(step.label), step.amount) for step in steps],
        totals={index for index, step in enumerate(steps) if step.total},
    )


def payment_delays(figures: Figures) -> Chart:
    months = figures.months()
    series = [
        Series(
            _("Délai de recouvrement clients (DSO)"),
            [figures.monthly["dso_jours"].get(month) for month in months],
            "line",
        ),
        Series(
            _("Délai de paiement fournisseurs (DPO)"),
            [figures.monthly["dpo_jours"].get(month) for month in months],
            "line",
        ),
    ]
    return charts.lines(
        _("Délais clients et fournisseurs en fin de mois"), [month_label(month) for month in months], series, unit="j"
    )


# --- how a figure is computed ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplainedLine:
    account: str
    label: str
    amount: str


ROLES = {"diviseur": N_("Diviseur"), "ouverture": N_("Ouverture"), "clôture": N_("Clôture")}


@dataclass(frozen=True)
class ExplainedTerm:
    label: str
    role: str  # « Diviseur » for the divisor of a rate or a delay, « Ouverture » / « Clôture »; "" in a sum
    sign: str
    lines: tuple[ExplainedLine, ...]
    total: str


def explained(terms: Sequence[Term], labels: Mapping[str, str]) -> list[ExplainedTerm]:
    """A figure's terms, each with its accounts (number, label, amount in euros) and its total."""
    return [
        ExplainedTerm(
            label=_(term.label),
            role=_(ROLES[term.role]) if term.role in ROLES else "",
            sign="−" if term.sign < 0 else "+",
            lines=tuple(
                ExplainedLine(account, labels.get(account, ""), format_value(amount, "€"))
                for account, amount in term.lines
            ),
            total=format_value(term.total, "€"),
        )
        for term in terms
    ]
