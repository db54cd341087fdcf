"""Portefeuille: every dossier the person may read the figures of, one row per dossier, from its
latest fiscal year, beside the year before.

Everything is done in the database: the latest ``YearFigures`` of each dossier and the revenue of
the year before come from one pass of two window functions over ``ledger_year_figures`` (indexed
by dossier and closing date), joined to the dossiers the person may read the figures of
(``restrict(…, Permission.KPI_READ, Dossier)``), to the revenue objective of that year and to the
last import that succeeded. Sorting, filters and paging are SQL, so a page is one statement and
its count another, on SQLite as on PostgreSQL, whatever the number of dossiers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.clients import search
from portal.clients.models import Dossier
from portal.dashboard.models import Objective
from portal.db.paging import PAGE_SIZE, Page
from portal.i18n import N_
from portal.ledger.models import ImportStatus, LedgerImport, YearFigures

REVENUE = "chiffre_affaires"
SLOW_PAYERS_DAYS = 60


class Column(StrEnum):
    """The columns of the list, as ``tri`` names them in the address (``-`` before: descending)."""

    NAME = "nom"
    CLOSING = "exercice"
    REVENUE = "ca"
    CHANGE = "variation"
    GROSS_MARGIN = "marge-brute"
    OPERATING_MARGIN = "marge-exploitation"
    CASH = "tresorerie"
    DSO = "dso"
    OBJECTIVE = "objectif"
    LAST_SYNC = "synchro"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Column.NAME: N_("Dossier"),
    Column.CLOSING: N_("Exercice"),
    Column.REVENUE: N_("CA"),
    Column.CHANGE: N_("Variation N-1"),
    Column.GROSS_MARGIN: N_("Marge brute"),
    Column.OPERATING_MARGIN: N_("Marge d'exploitation"),
    Column.CASH: N_("Trésorerie nette"),
    Column.DSO: N_("DSO"),
    Column.OBJECTIVE: N_("Objectif CA"),
    Column.LAST_SYNC: N_("Dernière synchro"),
}


@dataclass(frozen=True)
class Sort:
    """A column and a direction; anything unknown in the address sorts by name."""

    column: Column = Column.NAME
    descending: bool = False

    @classmethod
    def parse(cls, value: str) -> Sort:
        try:
            return cls(Column(value.removeprefix("-")), value.startswith("-"))
        except ValueError:
            return cls()

    @property
    def value(self) -> str:
        return ("-" if self.descending else "") + self.column.value

    def toggled(self, column: Column) -> str:
        """The ``tri`` of a click on ``column``'s heading: ascending first, then the other way."""
        return ("-" if column == self.column and not self.descending else "") + column.value


class Filter(StrEnum):
    """The filters above the list (``filtre`` in the address, repeated)."""

    NEGATIVE_CASH = "tresorerie-negative"
    FALLING_REVENUE = "ca-en-baisse"
    SLOW_PAYERS = "dso-60"

    @property
    def label(self) -> str:
        return _FILTER_LABELS[self]

    @classmethod
    def parse(cls, values: Iterable[str]) -> frozenset[Filter]:
        return frozenset(cls(value) for value in values if value in cls._value2member_map_)


_FILTER_LABELS = {
    Filter.NEGATIVE_CASH: N_("Trésorerie négative"),
    Filter.FALLING_REVENUE: N_("CA en baisse"),
    Filter.SLOW_PAYERS: N_("DSO > 60 j"),
}


@dataclass(frozen=True)
class PortfolioRow:
    """One dossier's line: amounts in cents, rates in %, days, as ``YearFigures`` keeps them."""

    dossier_id: uuid.UUID
    name: str
    siren: str | None
    is_confidential: bool
    start_date: dt.date
    end_date: dt.date
    revenue: int
    previous_revenue: int | None
    gross_margin_rate: Decimal | None
    operating_margin_rate: Decimal | None
    net_cash: int
    dso_days: Decimal | None
    revenue_target: Decimal | None
    last_sync: dt.datetime | None

    @property
    def change(self) -> Decimal | None:
        """Revenue against the year before, in % (one decimal); None without a year before or its revenue."""
        if not self.previous_revenue:
            return None
        return (Decimal(self.revenue - self.previous_revenue) * 100 / abs(self.previous_revenue)).quantize(
            Decimal("0.1")
        )

    @property
    def progress(self) -> Decimal | None:
        """Revenue ÷ the year's revenue objective, in % (one decimal); None without one."""
        if not self.revenue_target:
            return None
        return (Decimal(self.revenue) / self.revenue_target).quantize(Decimal("0.1"))  # cents ÷ euros = %


def _latest() -> Any:
    """Each dossier's fiscal years ranked from the latest, each with the revenue of the year before it."""
    by_dossier = YearFigures.dossier_id
    return select(
        YearFigures.dossier_id,
        YearFigures.start_date,
        YearFigures.end_date,
        YearFigures.chiffre_affaires,
        YearFigures.taux_marge_brute,
        YearFigures.taux_marge_exploitation,
        YearFigures.tresorerie_nette,
        YearFigures.dso_jours,
        func.lag(YearFigures.chiffre_affaires)
        .over(partition_by=by_dossier, order_by=YearFigures.end_date)
        .label("previous_revenue"),
        func.row_number().over(partition_by=by_dossier, order_by=YearFigures.end_date.desc()).label("rank"),
    ).subquery("latest")


class PortfolioService:
    """The Portefeuille list and its export, as the person asking may see it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _statement(self, principal: Principal, *, query: str, filters: frozenset[Filter], sort: Sort) -> Select[Any]:
        latest = _latest()
        revenue, previous = latest.c.chiffre_affaires, latest.c.previous_revenue
        change = case(
            (or_(previous.is_(None), previous == 0), None), else_=(revenue - previous) * 100.0 / func.abs(previous)
        ).label("change")
        progress = case(
            (or_(Objective.target.is_(None), Objective.target == 0), None), else_=revenue * 1.0 / Objective.target
        ).label("progress")
        last_sync = (
            select(func.max(LedgerImport.finished_at))
            .where(LedgerImport.dossier_id == Dossier.id, LedgerImport.status == ImportStatus.SUCCEEDED)
            .correlate(Dossier)
            .scalar_subquery()
            .label("last_sync")
        )
        statement = (
            select(
                Dossier.id,
                Dossier.name,
                Dossier.siren,
                Dossier.is_confidential,
                latest.c.start_date,
                latest.c.end_date,
                revenue,
                previous,
                latest.c.taux_marge_brute,
                latest.c.taux_marge_exploitation,
                latest.c.tresorerie_nette,
                latest.c.dso_jours,
                Objective.target,
                last_sync,
                change,
                progress,
            )
            .select_from(Dossier)
            .join(latest, and_(latest.c.dossier_id == Dossier.id, latest.c.rank == 1))
            .outerjoin(
                Objective,
                and_(
                    Objective.dossier_id == Dossier.id,
                    Objective.end_date == latest.c.end_date,
                    Objective.key == REVENUE,
                ),
            )
            .where(search.matches(query), *_conditions(latest, filters))
        )
        columns: dict[Column, Any] = {
            Column.NAME: Dossier.sort_name,
            Column.CLOSING: latest.c.end_date,
            Column.REVENUE: revenue,
            Column.CHANGE: change,
            Column.GROSS_MARGIN: latest.c.taux_marge_brute,
            Column.OPERATING_MARGIN: latest.c.taux_marge_exploitation,
            Column.CASH: latest.c.tresorerie_nette,
            Column.DSO: latest.c.dso_jours,
            Column.OBJECTIVE: progress,
            Column.LAST_SYNC: last_sync,
        }
        key = columns[sort.column]
        order = (key.desc() if sort.descending else key.asc()).nulls_last()
        statement = statement.order_by(order, Dossier.sort_name, Dossier.id)
        return restrict(statement, principal, Permission.KPI_READ, Dossier)

    def _count(self, principal: Principal, *, query: str, filters: frozenset[Filter]) -> Select[Any]:
        latest = _latest()
        statement = (
            select(func.count())
            .select_from(Dossier)
            .join(latest, and_(latest.c.dossier_id == Dossier.id, latest.c.rank == 1))
            .where(search.matches(query), *_conditions(latest, filters))
        )
        return restrict(statement, principal, Permission.KPI_READ, Dossier)

    async def page(
        self,
        principal: Principal,
        *,
        query: str = "",
        filters: frozenset[Filter] = frozenset(),
        sort: Sort = Sort(),
        page: int = 1,
        page_size: int = PAGE_SIZE,
    ) -> Page[PortfolioRow]:
        """One sorted page of the dossiers ``principal`` may read the figures of, and how many there are."""
        total = int((await self.session.execute(self._count(principal, query=query, filters=filters))).scalar_one())
        page = min(max(1, page), Page(items=[], total=total, page=1, page_size=page_size).pages)
        statement = self._statement(principal, query=query, filters=filters, sort=sort)
        rows = await self.session.execute(statement.offset((page - 1) * page_size).limit(page_size))
        return Page(items=[_row(row) for row in rows], total=total, page=page, page_size=page_size)

    async def export_rows(
        self,
        principal: Principal,
        *,
        query: str = "",
        filters: frozenset[Filter] = frozenset(),
        sort: Sort = Sort(),
        chunk: int = 1000,
    ) -> AsyncIterator[PortfolioRow]:
        """Every row of the list (the same filters and order), streamed."""
        statement = self._statement(principal, query=query, filters=filters, sort=sort)
        result = await self.session.stream(statement.execution_options(yield_per=chunk))
        async for row in result:
            yield _row(row)


def _conditions(latest: Any, filters: frozenset[Filter]) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if Filter.NEGATIVE_CASH in filters:
        conditions.append(latest.c.tresorerie_nette < 0)
    if Filter.FALLING_REVENUE in filters:
        # Without a year before there is no fall: NULL compares false.
        conditions.append(latest.c.chiffre_affaires < latest.c.previous_revenue)
    if Filter.SLOW_PAYERS in filters:
        conditions.append(latest.c.dso_jours > SLOW_PAYERS_DAYS)
    return conditions


def _row(row: Any) -> PortfolioRow:
    return PortfolioRow(*row[:14])
