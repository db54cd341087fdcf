"""Accueil (``/``): « Ce qui m'attend », and the full lists its sections link to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.response import Template

from portal.auth.guards import principal_of, requires, requires_somewhere, signed_in
from portal.auth.permissions import Permission
from portal.db.paging import Paging
from portal.expenses.formatting import money
from portal.home.services import HomeService
from portal.web.deps import PAGING, provide


class HomeController(Controller):
    path = "/"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"home": provide(HomeService)}

    @get("/", guards=[signed_in], name="home:index")
    async def index(self, request: Request[Any, Any, Any], home: NamedDependency[HomeService]) -> Template:
        """Accueil: every section that concerns the person and holds something, or « Tout est à jour »."""
        principal = principal_of(request)
        return Template(
            template_name="home/index.html", context={"sections": await home.sections(principal), "money": money}
        )

    @staticmethod
    def _list(key: str, result: Any, base: str) -> Template:
        return Template(
            template_name="home/list.html", context={"key": key, "result": result, "base": base, "money": money}
        )

    @get(
        "/accueil/connexions",
        guards=[requires_somewhere(Permission.CONNECTIONS_MANAGE)],
        name="home:connections",
        dependencies=PAGING,
    )
    async def connections(
        self, request: Request[Any, Any, Any], home: NamedDependency[HomeService], paging: NamedDependency[Paging]
    ) -> Template:
        result = await home.failing_connections(principal_of(request), page=paging.page, page_size=paging.size)
        return self._list("connections", result, "/accueil/connexions")

    @get(
        "/accueil/imports",
        guards=[requires_somewhere(Permission.CONNECTIONS_MANAGE)],
        name="home:imports",
        dependencies=PAGING,
    )
    async def imports(
        self, request: Request[Any, Any, Any], home: NamedDependency[HomeService], paging: NamedDependency[Paging]
    ) -> Template:
        result = await home.failed_imports(principal_of(request), page=paging.page, page_size=paging.size)
        return self._list("imports", result, "/accueil/imports")

    @get("/accueil/alertes", guards=[requires_somewhere(Permission.KPI_READ)], name="home:alerts", dependencies=PAGING)
    async def alerts(
        self, request: Request[Any, Any, Any], home: NamedDependency[HomeService], paging: NamedDependency[Paging]
    ) -> Template:
        principal = principal_of(request)
        result = await home.kpi_alerts(principal, await home.firm(), page=paging.page, page_size=paging.size)
        return self._list("alerts", result, "/accueil/alertes")

    @get(
        "/accueil/facturation",
        guards=[requires(Permission.BILLING_CLIENTS_READ)],
        name="home:billing",
        dependencies=PAGING,
    )
    async def billing(
        self, request: Request[Any, Any, Any], home: NamedDependency[HomeService], paging: NamedDependency[Paging]
    ) -> Template:
        principal = principal_of(request)
        firm = await home.firm()
        result = await home.dossiers_without_client(principal, firm, page=paging.page, page_size=paging.size)
        return self._list("billing", result, "/accueil/facturation")
