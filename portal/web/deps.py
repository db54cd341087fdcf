"""Dependencies every controller may ask for: the settings, the paging of a list, and its services.

Controllers receive their services as Litestar dependencies, never the request's session
itself. ``provide(DossierService)`` is the dependency for one service: an advanced-alchemy
service is built by its own provider, any other service class takes the request's session as
its one argument (``BillingEntityService(session)``). A controller declares the ones it uses::

    dependencies = {"dossiers": provide(DossierService), "billing": provide(BillingEntityService)}

and each handler names them: ``dossiers: NamedDependency[DossierService]``. A page that other
domains fill in (``web.extensions``) builds their parts on the request's session, handed over
by a dependency of the page (``clients.controllers.PanelServices``); the health check alone
takes the session itself, since the database is what it checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from portal.db.paging import Paging
from portal.settings import Settings


def provide_settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def provide_paging(page: FromQuery[str] = "", taille: FromQuery[str] = "") -> Paging:
    """The page and page size a list is asked for (``page``, ``taille``), read leniently: a list never fails on them."""
    return Paging.read(page, taille)


PAGING: Mapping[str, Provide] = {"paging": Provide(provide_paging, sync_to_thread=False)}
"""The ``paging`` dependency, for the handlers of lists (``dependencies=PAGING``), the only ones reading ``page``
and ``taille``."""


def provide(service: type[Any]) -> Provide:
    """The dependency giving a handler ``service``, on the request's session."""
    if issubclass(service, SQLAlchemyAsyncRepositoryService):
        return Provide(create_service_provider(service))

    def build(db_session: NamedDependency[AsyncSession]) -> Any:
        return service(db_session)

    return Provide(build, sync_to_thread=False)
