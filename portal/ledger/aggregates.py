"""Balances per account and month, written once per imported version, and the figures kept per fiscal year.

``write_balances`` sums a version's lines set-based (two ``INSERT … SELECT``): every KPI, chart and report
reads these rows, never the lines. ``refresh_year_figures`` recomputes the figures of every active fiscal
year of a dossier (``portal.ledger.figures``) and stores them in ``ledger_year_figures``; the import calls it
in the transaction that activates a version, so a re-import replaces the figures with the version.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, case, delete, exists, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from portal.ledger import figures as formulas
from portal.ledger.models import Account, Balance, FiscalYear, Journal, Line, VersionState, YearFigures

VAT_PREFIXES = ("4456", "4457")


class month_start(FunctionElement[dt.date]):  # noqa: N801 - used like a SQL function
    """The first day of the month of a date column."""

    inherit_cache = True
    name = "month_start"


@compiles(month_start, "sqlite")
def _month_start_sqlite(element: month_start, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps dates as 'AAAA-MM-JJ' text: cutting it is several times cheaper than date().
    return f"(substr({compiler.process(element.clauses, **kw)}, 1, 8) || '01')"


@compiles(month_start, "postgresql")
def _month_start_postgresql(element: month_start, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(date_trunc('month', {compiler.process(element.clauses, **kw)}) AS DATE)"


def _starts(column: Any, prefixes: Sequence[str]) -> Any:
    return or_(*(column.like(f"{prefix}%") for prefix in prefixes))


COLUMNS = ("fiscal_year_id", "account_number", "month", "journal_code", "flags", "account_label", "debit", "credit",
           "line_count")  # fmt: skip


async def write_balances(session: AsyncSession, fiscal_year_id: uuid.UUID) -> None:
    """Sum the version's lines per account, month and journal in one pass (VAT lines in a second, also by
    whether their entry posts to sales or purchases)."""
    line = Line.__table__.alias("line")
    key = literal(fiscal_year_id, Balance.fiscal_year_id.type)
    month = month_start(line.c.entry_date)
    of_version = line.c.fiscal_year_id == key
    is_vat = _starts(line.c.account_number, VAT_PREFIXES)
    label = func.coalesce(func.max(line.c.account_label), "")
    await session.execute(
        insert(Balance).from_select(
            COLUMNS,
            select(
                key, line.c.account_number, month, line.c.journal_code, literal(0, Integer), label,
                func.sum(line.c.debit), func.sum(line.c.credit), func.count(),
            ).where(of_version, ~is_vat).group_by(line.c.account_number, month, line.c.journal_code),
        )
    )  # fmt: skip
    other = Line.__table__.alias("other")

    def posts_to(*prefixes: str) -> Any:
        return exists().where(
            other.c.fiscal_year_id == line.c.fiscal_year_id,
            other.c.journal_code == line.c.journal_code,
            other.c.entry_number == line.c.entry_number,
            _starts(other.c.account_number, prefixes),
        )

    vat = (
        select(
            line.c.account_number.label("account_number"), month.label("month"),
            line.c.journal_code.label("journal_code"), line.c.account_label.label("account_label"),
            (case((posts_to("70"), formulas.SALES_ENTRY), else_=0)
             + case((posts_to("60", "61", "62"), formulas.PURCHASE_ENTRY), else_=0)).label("flags"),
            line.c.debit.label("debit"), line.c.credit.label("credit"),
        ).where(of_version, is_vat)
    ).subquery("vat")  # fmt: skip
    await session.execute(
        insert(Balance).from_select(
            COLUMNS,
            select(
                key, vat.c.account_number, vat.c.month, vat.c.journal_code, vat.c.flags,
                func.coalesce(func.max(vat.c.account_label), ""),
                func.sum(vat.c.debit), func.sum(vat.c.credit), func.count(),
            ).group_by(vat.c.account_number, vat.c.month, vat.c.journal_code, vat.c.flags),
        )
    )  # fmt: skip


async def write_accounts(session: AsyncSession, fiscal_year_id: uuid.UUID) -> None:
    """The version's accounts with their totals, summed from its balances (``write_balances`` first)."""
    key = literal(fiscal_year_id, Balance.fiscal_year_id.type)
    await session.execute(
        insert(Account).from_select(
            ["fiscal_year_id", "number", "label", "debit_total", "credit_total", "line_count"],
            select(
                Balance.fiscal_year_id, Balance.account_number, func.max(Balance.account_label),
                func.sum(Balance.debit), func.sum(Balance.credit), func.sum(Balance.line_count),
            ).where(Balance.fiscal_year_id == key).group_by(Balance.fiscal_year_id, Balance.account_number),
        )
    )  # fmt: skip


async def load_balances(session: AsyncSession, fiscal_year_id: uuid.UUID) -> list[formulas.BalanceRow]:
    """The version's balances, the à-nouveaux told apart by their journal (``figures.is_opening``)."""
    statement = select(Journal.code, Journal.label).where(Journal.fiscal_year_id == fiscal_year_id)
    journals: dict[str, str | None] = {row.code: row.label for row in await session.execute(statement)}
    rows = await session.execute(
        select(
            Balance.account_number, Balance.month, Balance.journal_code, Balance.flags, Balance.debit, Balance.credit
        ).where(Balance.fiscal_year_id == fiscal_year_id)
    )
    opening = {code: formulas.is_opening(code, label or "") for code, label in journals.items()}
    return [
        formulas.BalanceRow(
            account, month, opening.get(journal, formulas.is_opening(journal, "")), int(flags), int(debit), int(credit)
        )
        for account, month, journal, flags, debit, credit in rows
    ]


def previous_of(years: Sequence[FiscalYear], year: FiscalYear) -> FiscalYear | None:
    """The year before ``year`` among ``years``: the one ending the day before it starts, else the latest
    ending before it starts."""
    before = [other for other in years if other.end_date < year.start_date]
    if not before:
        return None
    exact = [other for other in before if other.end_date == year.start_date - dt.timedelta(days=1)]
    return exact[0] if exact else max(before, key=lambda other: other.end_date)


async def active_years(session: AsyncSession, dossier_id: uuid.UUID) -> list[FiscalYear]:
    statement = select(FiscalYear).where(FiscalYear.dossier_id == dossier_id, FiscalYear.state == VersionState.ACTIVE)
    return list((await session.execute(statement.order_by(FiscalYear.end_date.desc()))).scalars())


async def compute_figures(session: AsyncSession, year: FiscalYear) -> formulas.Figures:
    """The figures of one version from its balances (and the previous active year's, for the opening)."""
    previous = previous_of(await active_years(session, year.dossier_id), year)
    rows = await load_balances(session, year.id)
    before = await load_balances(session, previous.id) if previous is not None else None
    return formulas.compute(rows, start=year.start_date, end=year.end_date, previous=before)


def _cents(value: Decimal | None) -> int:
    return int((value or Decimal(0)) * 100)


def stored_detail(figures: formulas.Figures) -> dict[str, Any]:
    return {
        "values": {key: None if value is None else str(value) for key, value in figures.values.items()},
        "monthly": {
            key: {month: None if value is None else str(value) for month, value in series.items()}
            for key, series in figures.monthly.items()
        },
        "opening_source": figures.opening_source,
        "extras": {key: str(value) for key, value in figures.extras.items()},
    }


def from_stored(row: YearFigures) -> formulas.Figures:
    """The figures as stored with the year (what the pages read)."""
    detail = row.detail

    def number(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return formulas.Figures(
        start=row.start_date,
        end=row.end_date,
        values={key: number(value) for key, value in detail["values"].items()},
        monthly={
            key: {month: number(value) for month, value in series.items()} for key, series in detail["monthly"].items()
        },
        opening_source=detail.get("opening_source", ""),
        extras={key: Decimal(value) for key, value in detail.get("extras", {}).items()},
    )


async def refresh_year_figures(session: AsyncSession, dossier_id: uuid.UUID) -> None:
    """Recompute and store the figures of every active fiscal year of the dossier (in the caller's transaction)."""
    years = await active_years(session, dossier_id)
    await session.execute(delete(YearFigures).where(YearFigures.dossier_id == dossier_id))
    balances = {year.id: await load_balances(session, year.id) for year in years}
    now = dt.datetime.now(dt.UTC)
    for year in years:
        previous = previous_of(years, year)
        result = formulas.compute(
            balances[year.id],
            start=year.start_date,
            end=year.end_date,
            previous=balances[previous.id] if previous is not None else None,
        )
        values = result.values
        await session.execute(
            insert(YearFigures).values(
                fiscal_year_id=year.id, dossier_id=dossier_id, start_date=year.start_date, end_date=year.end_date,
                chiffre_affaires=_cents(values["chiffre_affaires"]), marge_brute=_cents(values["marge_brute"]),
                resultat_exploitation=_cents(values["resultat_exploitation"]),
                resultat_net=_cents(values["resultat_net"]), tresorerie_nette=_cents(values["tresorerie_nette"]),
                taux_marge_brute=values["taux_marge_brute"],
                taux_marge_exploitation=values["taux_marge_exploitation"],
                dso_jours=values["dso_jours"], dpo_jours=values["dpo_jours"],
                figures=result.to_json(), detail=stored_detail(result), computed_at=now,
            )
        )  # fmt: skip


async def missing(session: AsyncSession, *, limit: int = 100) -> list[tuple[uuid.UUID, uuid.UUID, bool]]:
    """Active versions without stored figures (imported before figures were kept): (dossier, version,
    whether its balances are written)."""
    has_balances = exists().where(Balance.fiscal_year_id == FiscalYear.id)
    statement = (
        select(FiscalYear.dossier_id, FiscalYear.id, has_balances)
        .where(
            FiscalYear.state == VersionState.ACTIVE,
            ~exists().where(YearFigures.fiscal_year_id == FiscalYear.id),
        )
        .order_by(FiscalYear.dossier_id, FiscalYear.id)
        .limit(limit)
    )
    return [(dossier, version, bool(written)) for dossier, version, written in await session.execute(statement)]


__all__ = [
    "active_years",
    "compute_figures",
    "from_stored",
    "load_balances",
    "missing",
    "month_start",
    "previous_of",
    "refresh_year_figures",
    "write_accounts",
    "write_balances",
]
