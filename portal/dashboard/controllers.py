"""A dossier's Tableau de bord: its figures for a fiscal year beside N-1, charts, and how each figure is computed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from litestar_htmx import HTMXRequest

from portal.auth.guards import principal_of, requires_somewhere
from portal.auth.permissions import Permission
from portal.clients.services import DossierService
from portal.dashboard import board
from portal.dashboard.board import BoardService
from portal.ledger import aggregates
from portal.ledger.figures import BY_KEY
from portal.ledger.services import LedgerService
from portal.web.charts import format_value
from portal.web.deps import provide


class DashboardController(Controller):
    path = "/entreprises/{dossier_id:uuid}/tableau-de-bord"
    guards = (requires_somewhere(Permission.KPI_READ),)
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {
        "ledger": provide(LedgerService),
        "dossiers": provide(DossierService),
        "boards": provide(BoardService),
    }

    @get("/", name="dashboard:board")
    async def board(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
        boards: NamedDependency[BoardService],
        exercice: FromQuery[str] = "",
    ) -> Template:
        """The figures of one fiscal year (the latest by default) beside N-1's, and the charts."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.KPI_READ)
        years = await ledger.fiscal_years(principal, dossier.id)
        year = next((item for item in years if str(item.id) == exercice), years[0] if years else None)
        context: dict[str, Any] = {
            "dossier": dossier,
            "years": years,
            "year": year,
            "sync": await boards.sync(dossier.id),
        }
        if year is None:
            return Template(template_name="dashboard/dashboard.html", context=context)
        figures = await ledger.figures(year)
        previous_year = aggregates.previous_of(years, year)
        previous = await ledger.figures(previous_year) if previous_year is not None else None
        objectives = await boards.objectives(dossier.id, year.end_date)
        budget = await boards.budget(dossier.id, year.end_date, "chiffre_affaires")
        context |= {
            "previous_year": previous_year,
            "previous_label": board.short_label(previous_year) if previous_year is not None else None,
            "groups": board.groups(figures, previous, objectives),
            "charts": [
                board.revenue_by_month(year, figures, previous_year, previous),
                board.revenue_against_plan(
                    year, figures, previous_year, previous, objectives.get("chiffre_affaires"), budget
                ),
                board.cascade(figures),
                board.payment_delays(figures),
            ],
        }
        return Template(template_name="dashboard/dashboard.html", context=context)

    @get("/{fiscal_year_id:uuid}/{key:str}", name="dashboard:explain")
    async def explain(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        fiscal_year_id: FromPath[uuid.UUID],
        key: FromPath[str],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
    ) -> Template:
        """How one figure of one fiscal year is computed: its terms, their accounts and amounts."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.KPI_READ)
        year = await ledger.get_fiscal_year(principal, fiscal_year_id, Permission.KPI_READ)
        definition = BY_KEY.get(key)
        if year.dossier_id != dossier.id or definition is None:
            raise NotFoundException
        figures = await ledger.figures(year)
        terms = await ledger.explain(year, key)
        labels = await ledger.account_labels(year)
        unit = board.unit_of(key)
        context = {
            "dossier": dossier,
            "year": year,
            "definition": definition,
            "value": format_value(figures.values.get(key), unit),
            "missing": figures.values.get(key) is None,
            "terms": board.explained(terms, labels),
        }
        return Template(template_name="dashboard/explain.html", context=context)
