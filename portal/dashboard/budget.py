"""Le prévisionnel of a dossier's fiscal year: a monthly budget per line (``figures.BUDGET_KEYS``), and
how the year's actual figures compare with it (« Réel vs budget »).

A budget is a grid: line → month (first day) → amount in integer cents. A line with at least one
amount is *budgeted*, its blank months counting as zero; a line without any is not budgeted and
its variances are not computed. Saving a grid, from the form, from « Pré-remplir depuis N-1 » or
from a CSV, replaces the year's whole budget in one transaction: what is not in the grid goes.

Sign convention (said on the page): budget amounts are positive, the chiffre d'affaires and the charges
alike (a charge of 1 500 € is budgeted 1 500), as ``Figures.monthly`` gives a charge line alone (what
was spent): ``actual`` reads them as they are. A variance
is réel − budget; for the chiffre d'affaires a positive variance is favourable, for a charge it is
unfavourable.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.clients.locks import lock_dossier
from portal.dashboard.amounts import CENT, NUMBER_MAX_LENGTH, NumberError, from_cents, parse_number, to_cents, typed
from portal.dashboard.models import BudgetLine
from portal.i18n import N_
from portal.ledger import figures
from portal.ledger.models import Entry, FiscalYear

Grid = dict[str, dict[dt.date, int]]
"""A budget: line key → first day of a month → amount in cents (only the cells that hold one)."""

CHARGE_KEYS = figures.CHARGE_LINES
"""Budget lines that are charges: lower is better, a variance over budget is unfavourable."""
months_of = figures.months_of
"""The first day of every month a fiscal year touches, in order."""
REVENUE_KEY = "chiffre_affaires"
MAX_RATE = Decimal(1000)  # % of growth for « Pré-remplir depuis N-1 »: from -100 % (nothing) up to ×11

LINE_LABELS: Mapping[str, str] = {key: figures.LINE_LABELS[key] for key in figures.BUDGET_KEYS}
"""The budget lines' names (msgids), in ``figures.BUDGET_KEYS`` order."""

FAVOURABLE = "favorable"
UNFAVOURABLE = "defavorable"
ON_BUDGET = "conforme"
VERDICT_LABELS: Mapping[str, str] = {
    FAVOURABLE: N_("favorable"),
    UNFAVOURABLE: N_("défavorable"),
    ON_BUDGET: N_("conforme"),
}
BAD_RATE = N_("Taux invalide : saisissez un pourcentage, par exemple 5 ou -2,5.")
RATE_OUT_OF_RANGE = N_("Le taux doit être compris entre -100 %% et 1 000 %%.")


def month_key(month: dt.date) -> str:
    """``AAAA-MM``: how the figures, the form and the CSV name a month."""
    return f"{month:%Y-%m}"


def field_name(key: str, month: dt.date) -> str:
    """The grid cell's field in the form: ``chiffre_affaires.2025-01``."""
    return f"{key}.{month_key(month)}"


def is_charge(key: str) -> bool:
    return key in CHARGE_KEYS


# --- the grid as typed ----------------------------------------------------------------------


@dataclass
class TypedGrid:
    """The grid as posted: each cell's text (shown back), its message if wrong, and the clean grid if none."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    grid: Grid = field(default_factory=dict)


def read_grid(posted: Mapping[str, str], months: Sequence[dt.date]) -> TypedGrid:
    """Every cell of the grid read from the posted form: French decimals, blank for no amount.

    Fields that are not cells of this year's grid are ignored; a cell over its length is refused.
    """
    typed_grid = TypedGrid()
    for key in figures.BUDGET_KEYS:
        for month in months:
            name = field_name(key, month)
            text = posted.get(name, "")
            if len(text) > NUMBER_MAX_LENGTH:
                typed_grid.values[name] = text[:NUMBER_MAX_LENGTH]
                typed_grid.errors[name] = N_("Valeur trop longue.")
                continue
            typed_grid.values[name] = text
            try:
                amount = parse_number(text)
            except NumberError as wrong:
                typed_grid.errors[name] = wrong.message
                continue
            if amount is not None:
                typed_grid.grid.setdefault(key, {})[month] = to_cents(amount)
    return typed_grid


def grid_values(grid: Grid, months: Sequence[dt.date]) -> dict[str, str]:
    """A saved grid as the form's fields show it (``12345,67``)."""
    return {
        field_name(key, month): typed(from_cents(grid[key][month])) if month in grid.get(key, {}) else ""
        for key in figures.BUDGET_KEYS
        for month in months
    }


def parse_rate(text: str) -> Decimal:
    """The growth rate of « Pré-remplir depuis N-1 », in %: ``5``, ``-2,5``; blank is 0. ``NumberError`` else."""
    try:
        rate = parse_number(text)
    except NumberError as wrong:
        raise NumberError(BAD_RATE) from wrong
    rate = rate or Decimal(0)
    if not Decimal(-100) <= rate <= MAX_RATE:
        raise NumberError(RATE_OUT_OF_RANGE)
    return rate


def prefill(previous: figures.Figures, months: Sequence[dt.date], rate: Decimal) -> Grid:
    """Each month = the same month of N-1 × (1 + rate %), rounded to the cent half up.

    The same month of N-1 is the month a year earlier; a month N-1 did not have (a first fiscal
    year shorter than this one) is left blank, and so is a line N-1 has nothing on.
    """
    factor = 1 + rate / 100
    grid: Grid = {}
    for key in figures.BUDGET_KEYS:
        monthly = actual(previous, key)
        if not any(monthly.values()):  # nothing in N-1 (no dotations, say): the line stays without budget
            continue
        for month in months:
            before = _same_month_before(monthly, month)
            if before is None:
                continue
            amount = (Decimal(before) * factor).quantize(CENT, rounding=ROUND_HALF_UP)
            grid.setdefault(key, {})[month] = to_cents(amount)
    return grid


def actual(year_figures: figures.Figures, key: str) -> dict[str, Decimal]:
    """A budget line's actual amount per month (``AAAA-MM``), as the budget counts it: a charge positive."""
    return {month: value or Decimal(0) for month, value in year_figures.monthly.get(key, {}).items()}


def _same_month_before(monthly: Mapping[str, Decimal], month: dt.date) -> Decimal | None:
    """The same month of N-1: a year before ``month``."""
    return monthly.get(month_key(month.replace(year=month.year - 1)))


# --- réel vs budget ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Variance:
    """One cell of « Réel vs budget »: the actual figure, the budget, and how far apart they are."""

    real: Decimal
    budget: Decimal | None  # None: the line has no budget
    variance: Decimal | None  # réel − budget, in euros
    percent: Decimal | None  # variance ÷ budget, in % (1 dp); None when the budget is zero
    verdict: str | None  # FAVOURABLE, UNFAVOURABLE, ON_BUDGET; None without budget

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.verdict] if self.verdict else ""


def variance(real: Decimal, budget: Decimal | None, *, charge: bool) -> Variance:
    """How ``real`` compares with ``budget``: over budget is favourable for revenue, unfavourable for a charge."""
    if budget is None:
        return Variance(real, None, None, None, None)
    gap = real - budget
    percent = (gap / abs(budget) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if budget else None
    better = -gap if charge else gap
    verdict = FAVOURABLE if better > 0 else UNFAVOURABLE if better < 0 else ON_BUDGET
    return Variance(real, budget, gap, percent, verdict)


@dataclass(frozen=True)
class ComparedLine:
    key: str
    label: str  # msgid
    charge: bool
    months: list[Variance]
    to_date: Variance
    year: Variance


@dataclass(frozen=True)
class Comparison:
    months: list[dt.date]
    last_month: dt.date | None  # the last month with entries: « à date » stops there
    lines: list[ComparedLine]

    @property
    def budgeted(self) -> bool:
        return any(line.year.budget is not None for line in self.lines)


def compare(
    year_figures: figures.Figures, grid: Grid, months: Sequence[dt.date], last_month: dt.date | None
) -> Comparison:
    """Réel vs budget per line and month, to date (the months up to ``last_month``) and for the year."""
    lines = []
    for key in figures.BUDGET_KEYS:
        monthly = actual(year_figures, key)
        budgeted = key in grid and bool(grid[key])
        charge = is_charge(key)
        cells = []
        for month in months:
            real = monthly.get(month_key(month), Decimal(0))
            budget = from_cents(grid[key].get(month, 0)) if budgeted else None
            cells.append(variance(real, budget, charge=charge))
        to_date = [cell for month, cell in zip(months, cells, strict=True) if last_month and month <= last_month]
        lines.append(
            ComparedLine(
                key=key, label=LINE_LABELS[key], charge=charge, months=cells,
                to_date=_total(to_date, budgeted=budgeted, charge=charge),
                year=_total(cells, budgeted=budgeted, charge=charge),
            )
        )  # fmt: skip
    return Comparison(months=list(months), last_month=last_month, lines=lines)


def _total(cells: Sequence[Variance], *, budgeted: bool, charge: bool) -> Variance:
    real = sum((cell.real for cell in cells), Decimal(0))
    budget = sum((cell.budget or Decimal(0) for cell in cells), Decimal(0)) if budgeted else None
    return variance(real, budget, charge=charge)


# --- totals of the grid ---------------------------------------------------------------------------


def row_total(grid: Grid, key: str) -> int | None:
    """A line's total for the year, in cents; None when the line has no budget."""
    cells = grid.get(key)
    return sum(cells.values()) if cells else None


def balance(grid: Grid, month: dt.date | None = None) -> int:
    """CA − charges, in cents, for a month (or the year): the grid's column total."""
    total = 0
    for key, cells in grid.items():
        amount = cells.get(month, 0) if month is not None else sum(cells.values())
        total += -amount if is_charge(key) else amount
    return total


# --- storage -------------------------------------------------------------------------------------


class BudgetService:
    """A dossier's budgets, one per fiscal year (kept by its closing date). The caller checked the dossier."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def grid(self, dossier_id: uuid.UUID, end_date: dt.date) -> Grid:
        statement = select(BudgetLine.key, BudgetLine.month, BudgetLine.amount).where(
            BudgetLine.dossier_id == dossier_id, BudgetLine.end_date == end_date
        )
        grid: Grid = {}
        for key, month, amount in (await self.session.execute(statement)).all():
            grid.setdefault(key, {})[month] = amount
        return grid

    async def exists(self, dossier_id: uuid.UUID, end_date: dt.date) -> bool:
        statement = select(func.count()).where(BudgetLine.dossier_id == dossier_id, BudgetLine.end_date == end_date)
        return bool(await self.session.scalar(statement))

    async def replace(self, dossier_id: uuid.UUID, year: FiscalYear, grid: Grid) -> int:
        """The year's budget becomes ``grid``, in the caller's transaction: changed cells updated, new ones
        added, the others removed. Returns how many cells it holds. Concurrent saves of one dossier queue
        on its row (PostgreSQL) or the write lock (SQLite), so the unique key is never raced."""
        await lock_dossier(self.session, dossier_id)
        months = set(months_of(year.start_date, year.end_date))
        wanted = {
            (key, month): amount
            for key, cells in grid.items()
            if key in figures.BUDGET_KEYS
            for month, amount in cells.items()
            if month in months
        }
        existing = (
            await self.session.execute(
                select(BudgetLine).where(BudgetLine.dossier_id == dossier_id, BudgetLine.end_date == year.end_date)
            )
        ).scalars()
        for line in existing:
            amount = wanted.pop((line.key, line.month), None)
            if amount is None:
                await self.session.delete(line)
            elif line.amount != amount:
                line.amount = amount
        for (key, month), amount in wanted.items():
            self.session.add(
                BudgetLine(dossier_id=dossier_id, end_date=year.end_date, key=key, month=month, amount=amount)
            )
        await self.session.flush()
        return sum(len(cells) for cells in grid.values())

    async def last_month_with_entries(self, year: FiscalYear) -> dt.date | None:
        """The month of the year's latest entry: « à date » counts the months up to it."""
        latest = await self.session.scalar(select(func.max(Entry.entry_date)).where(Entry.fiscal_year_id == year.id))
        return latest.replace(day=1) if latest is not None else None
