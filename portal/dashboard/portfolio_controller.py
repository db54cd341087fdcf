"""Portefeuille: the figures of every dossier the person follows, sorted, filtered, paged and exported."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, MediaType, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Stream, Template
from litestar_htmx import HTMXRequest, HTMXTemplate

from portal.auth.guards import principal_of, requires_somewhere, signed_in
from portal.auth.permissions import Permission
from portal.dashboard.portfolio import Column, Filter, PortfolioRow, PortfolioService, Sort
from portal.db.paging import Paging
from portal.settings import FIRM_TIMEZONE
from portal.web import forms
from portal.web.deps import PAGING, provide
from portal.web.exports import csv_stream, reader_sessions

BASE = "/portefeuille"
EXPORT_COLUMNS = (
    "Dossier", "SIREN", "Début d'exercice", "Clôture", "CA (€)", "CA N-1 (€)", "Variation N-1 (%)",
    "Marge brute (%)", "Marge d'exploitation (%)", "Trésorerie nette (€)", "DSO (jours)", "Objectif CA (%)",
    "Dernière synchro",
)  # fmt: skip


def decimal_comma(value: Decimal | None) -> str:
    """A number as a French spreadsheet reads it: ``-1234,50`` (no thousands separator), empty when None."""
    return "" if value is None else str(value).replace(".", ",")


def euros(cents: int | None) -> str:
    return "" if cents is None else decimal_comma((Decimal(cents) / 100).quantize(Decimal("0.01")))


def _csv_row(row: PortfolioRow) -> tuple[str, ...]:
    synced = row.last_sync.astimezone(FIRM_TIMEZONE).strftime("%d/%m/%Y %H:%M") if row.last_sync else ""
    return (
        row.name, row.siren or "", row.start_date.strftime("%d/%m/%Y"), row.end_date.strftime("%d/%m/%Y"),
        euros(row.revenue), euros(row.previous_revenue), decimal_comma(row.change),
        decimal_comma(row.gross_margin_rate), decimal_comma(row.operating_margin_rate), euros(row.net_cash),
        decimal_comma(row.dso_days), decimal_comma(row.progress), synced,
    )  # fmt: skip


def _params(q: str, filters: frozenset[Filter], sort: Sort | None = None) -> list[tuple[str, str]]:
    """The list's state as query parameters (in the filters' own order), for links that keep it."""
    params = [("q", q)] if q else []
    params += [("filtre", item.value) for item in Filter if item in filters]
    if sort is not None:
        params.append(("tri", sort.value))
    return params


class PortfolioController(Controller):
    path = BASE
    guards = (signed_in, requires_somewhere(Permission.KPI_READ))
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"portfolio": provide(PortfolioService)}

    @get("/", name="dashboard:portfolio", media_type=MediaType.HTML, dependencies=PAGING)
    async def index(  # noqa: PLR0917 - Litestar passes the parameters by name
        self,
        request: HTMXRequest,
        portfolio: NamedDependency[PortfolioService],
        paging: NamedDependency[Paging],
        q: FromQuery[str] = "",
        tri: FromQuery[str] = Column.NAME.value,
        filtre: FromQuery[list[str] | None] = None,
    ) -> Template:
        """One row per dossier with a fiscal year: its latest year's figures beside the year before."""
        sort, filters, q = Sort.parse(tri), Filter.parse(filtre or ()), forms.query_text(q)
        result = await portfolio.page(principal_of(request), query=q, filters=filters, sort=sort, paging=paging)
        state = _params(q.strip(), filters)
        context: dict[str, Any] = {
            "result": result, "q": q.strip(), "sort": sort, "filters": filters, "all_filters": list(Filter),
            "columns": list(Column), "base": BASE, "state": state,
            "export_url": f"{BASE}/export.csv" + (f"?{urlencode([*state, ('tri', sort.value)])}"),
        }  # fmt: skip
        if request.htmx and request.htmx.target == "resultats":
            # The address bar follows the list, so reload, back and a shared link keep it.
            query = urlencode([*state, ("tri", sort.value), ("page", str(result.page))])
            context["live"] = True
            return HTMXTemplate(
                template_name="dashboard/_partials/portfolio_results.html", context=context, push_url=f"{BASE}?{query}"
            )
        return Template(template_name="dashboard/portfolio.html", context=context)

    @get("/export.csv", name="dashboard:portfolio-export")
    async def export(
        self,
        request: Request[Any, Any, Any],
        q: FromQuery[str] = "",
        tri: FromQuery[str] = Column.NAME.value,
        filtre: FromQuery[list[str] | None] = None,
    ) -> Stream:
        """The whole list (same search, filters and order) as CSV: UTF-8 with BOM, ``;``, decimal commas."""
        principal = principal_of(request)
        sort, filters, query = Sort.parse(tri), Filter.parse(filtre or ()), forms.query_text(q)
        sessions = reader_sessions(request)

        async def rows() -> AsyncIterator[tuple[str, ...]]:
            async with sessions() as session:
                service = PortfolioService(session)
                async for row in service.export_rows(principal, query=query, filters=filters, sort=sort):
                    yield _csv_row(row)

        return csv_stream(rows(), EXPORT_COLUMNS, "portefeuille.csv")
