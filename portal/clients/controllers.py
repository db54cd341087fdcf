"""The Entreprises page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Template

from portal.auth.guards import principal_of, signed_in
from portal.clients.services import DossierService


class DossierController(Controller):
    path = "/entreprises"
    guards = (signed_in,)
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"dossiers": Provide(create_service_provider(DossierService))}

    @get("/", name="clients:list")
    async def index(
        self,
        request: Request[Any, Any, Any],
        dossiers: NamedDependency[DossierService],
        page: Annotated[int, QueryParameter(ge=1)] = 1,
    ) -> Template:
        result = await dossiers.visible_page(principal_of(request), page=page)
        return Template(template_name="clients/list.html", context={"result": result})
