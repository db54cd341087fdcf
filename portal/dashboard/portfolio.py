"""Portefeuille: every dossier the person may read the figures of, one row per dossier, from its
latest fiscal year, beside the year before.

Everything is done in the database: the latest ``YearFigures`` of each dossier and the year before
are found through correlated subqueries on ``ledger_year_figures``' (dossier, closing date) index,
joined to the dossiers the person may read the figures of
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
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.clients import search
from portal.clients.models import Dossier
from portal.dashboard.models import Objective
from portal.db.paging import FIRST_PAGE, Page, Paging, last_page
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


@dataclass(frozen=True)
class _Years:
    """The latest fiscal year of ``Dossier`` (joined) and the one before it (outer-joined), as aliases.

    Each found through the ``(dossier_id, end_date)`` index: the newest closing date of the dossier, then
    the newest before it. Correlated subqueries, not a window over every year of every dossier: sorted
    by name, a page reads the years of its own dossiers only; sorted by a figure, one row per dossier.
    """

    latest: Any
    before: Any

    @classmethod
    def make(cls) -> _Years:
        latest = aliased(YearFigures, name="latest")
        before = aliased(YearFigures, name="before")
        return cls(latest, before)

    def join(self, statement: Select[Any], *, before: bool = True) -> Select[Any]:
        newest, earlier = aliased(YearFigures, name="newest"), aliased(YearFigures, name="earlier")
        latest_end = (
            select(func.max(newest.end_date))
            .where(newest.dossier_id == Dossier.id)
            .correlate(Dossier)
            .scalar_subquery()
        )
        statement = statement.join(
            self.latest, and_(self.latest.dossier_id == Dossier.id, self.latest.end_date == latest_end)
        )
        if not before:
            return statement
        before_end = (
            select(func.max(earlier.end_date))
            .where(earlier.dossier_id == Dossier.id, earlier.end_date < self.latest.end_date)
            .correlate(Dossier, self.latest)
            .scalar_subquery()
        )
        return statement.outerjoin(
            self.before, and_(self.before.dossier_id == Dossier.id, self.before.end_date == before_end)
        )


class PortfolioService:
    """The Portefeuille list and its export, as the person asking may see it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _ordered(self, principal: Principal, *, query: str, filters: frozenset[Filter], sort: Sort) -> Select[Any]:
        """The dossiers of the list in order, with their sort key and name only: what ordering, filtering and
        paging need, and nothing more (the page's other figures are read for its own rows afterwards)."""
        columns = select(Dossier.id.label("dossier_id"), Dossier.sort_name.label("sort_name")).select_from(Dossier)
        statement = cast("Select[Any]", columns)
        if sort.column is Column.NAME and not filters:  # a dossier with a fiscal year: read from the index alone
            key: Any = Dossier.sort_name
            statement = statement.where(exists().where(YearFigures.dossier_id == Dossier.id))
        else:
            years = _Years.make()
            statement = years.join(
                statement, before=sort.column is Column.CHANGE or Filter.FALLING_REVENUE in filters
            ).where(*_conditions(years, filters))
            if sort.column is Column.OBJECTIVE:
                statement = _with_objective(statement, years)
            key = _expressions(years)[sort.column]
        statement = statement.add_columns(key.label("sort_key")).where(search.matches(query))
        if sort.column is Column.NAME:  # never blank; NULLS LAST would keep PostgreSQL off the name's index
            order = Dossier.sort_name.desc() if sort.descending else Dossier.sort_name.asc()
        else:
            order = (key.desc() if sort.descending else key.asc()).nulls_last()
        statement = statement.order_by(order, Dossier.sort_name, Dossier.id)
        return restrict(statement, principal, Permission.KPI_READ, Dossier)

    def _statement(
        self, principal: Principal, *, query: str, filters: frozenset[Filter], sort: Sort, limit: int | None = None,
        offset: int = 0,
    ) -> Select[Any]:  # fmt: skip
        """The rows of the list (one page of them with ``limit``): the ordered dossiers, then their figures."""
        ordered = self._ordered(principal, query=query, filters=filters, sort=sort)
        if limit is not None:
            ordered = ordered.limit(limit).offset(offset)
        chosen = ordered.subquery("chosen")
        years = _Years.make()
        latest = years.latest
        expressions = _expressions(years)
        statement = years.join(
            select(
                Dossier.id, Dossier.name, Dossier.siren, Dossier.is_confidential, latest.start_date, latest.end_date,
                latest.chiffre_affaires, years.before.chiffre_affaires, latest.taux_marge_brute,
                latest.taux_marge_exploitation, latest.tresorerie_nette, latest.dso_jours, Objective.target,
                expressions[Column.LAST_SYNC],
            ).select_from(chosen).join(Dossier, Dossier.id == chosen.c.dossier_id)
        )  # fmt: skip
        key = chosen.c.sort_key
        if sort.column is Column.NAME:
            order = key.desc() if sort.descending else key.asc()
        else:
            order = (key.desc() if sort.descending else key.asc()).nulls_last()
        return _with_objective(statement, years).order_by(order, chosen.c.sort_name, chosen.c.dossier_id)

    def _count(self, principal: Principal, *, query: str, filters: frozenset[Filter]) -> Select[Any]:
        statement = select(func.count()).select_from(Dossier).where(search.matches(query))
        if filters:
            years = _Years.make()
            statement = years.join(statement, before=Filter.FALLING_REVENUE in filters).where(
                *_conditions(years, filters)
            )
        else:  # a dossier with a fiscal year: read from the index alone
            statement = statement.where(exists().where(YearFigures.dossier_id == Dossier.id))
        return restrict(statement, principal, Permission.KPI_READ, Dossier)

    async def page(
        self,
        principal: Principal,
        *,
        query: str = "",
        filters: frozenset[Filter] = frozenset(),
        sort: Sort = Sort(),
        paging: Paging = FIRST_PAGE,
    ) -> Page[PortfolioRow]:
        """One sorted page of the dossiers ``principal`` may read the figures of, and how many there are."""
        total = int((await self.session.execute(self._count(principal, query=query, filters=filters))).scalar_one())
        shown = Paging(page=last_page(paging, total), size=paging.size)
        statement = self._statement(
            principal, query=query, filters=filters, sort=sort, limit=shown.size, offset=shown.offset
        )
        rows = await self.session.execute(statement)
        return Page.of([_row(row) for row in rows], total, paging)

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


def _expressions(years: _Years) -> dict[Column, Any]:
    """What each column sorts by (``change`` needs the year before joined, ``progress`` the objective)."""
    latest, revenue, previous = years.latest, years.latest.chiffre_affaires, years.before.chiffre_affaires
    return {
        Column.NAME: Dossier.sort_name,
        Column.CLOSING: latest.end_date,
        Column.REVENUE: revenue,
        Column.CHANGE: case(
            (or_(previous.is_(None), previous == 0), None), else_=(revenue - previous) * 100.0 / func.abs(previous)
        ),
        Column.GROSS_MARGIN: latest.taux_marge_brute,
        Column.OPERATING_MARGIN: latest.taux_marge_exploitation,
        Column.CASH: latest.tresorerie_nette,
        Column.DSO: latest.dso_jours,
        Column.OBJECTIVE: case(
            (or_(Objective.target.is_(None), Objective.target == 0), None), else_=revenue * 1.0 / Objective.target
        ),
        # The last import that succeeded; read for the rows of the page, for every dossier only when sorted by it.
        Column.LAST_SYNC: select(func.max(LedgerImport.finished_at))
        .where(LedgerImport.dossier_id == Dossier.id, LedgerImport.status == ImportStatus.SUCCEEDED)
        .correlate(Dossier)
        .scalar_subquery(),
    }


def _with_objective(statement: Select[Any], years: _Years) -> Select[Any]:
    """The revenue objective of the latest year, when there is one."""
    return statement.outerjoin(
        Objective,
        and_(Objective.dossier_id == Dossier.id, Objective.end_date == years.latest.end_date, Objective.key == REVENUE),
    )


def _conditions(years: _Years, filters: frozenset[Filter]) -> list[ColumnElement[bool]]:
    latest = years.latest
    conditions: list[ColumnElement[bool]] = []
    if Filter.NEGATIVE_CASH in filters:
        conditions.append(latest.tresorerie_nette < 0)
    if Filter.FALLING_REVENUE in filters:
        # Without a year before there is no fall: NULL compares false.
        conditions.append(latest.chiffre_affaires < years.before.chiffre_affaires)
    if Filter.SLOW_PAYERS in filters:
        conditions.append(latest.dso_jours > SLOW_PAYERS_DAYS)
    return conditions


def _row(row: Any) -> PortfolioRow:
    return PortfolioRow(*row[:14])
