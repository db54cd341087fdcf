"""A dossier's Connexions page: the sources it can connect, their state and the imports.

The page also holds the ledger's FEC upload (``portal.ledger.controllers.FecUploadController``),
mounted here with the page's body size and told how to show the page again when it refuses a
file. Each source's own pages are its package's (``pennylane.controllers``, ``commerce.controllers``).
"""

from __future__ import annotations

import uuid

from litestar import Controller, MediaType, Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from litestar_htmx import HTMXRequest, HTMXTemplate

from portal.auth.guards import principal_of
from portal.auth.permissions import Permission
from portal.clients.services import DossierService
from portal.integrations import page
from portal.integrations.page import ConnectionsPage
from portal.integrations.pennylane.controllers import READS, PennylaneCallbackController, PennylaneController
from portal.ledger import fec
from portal.ledger.controllers import DEPENDENCIES, FecUploadController
from portal.ledger.services import LedgerService
from portal.settings import Settings
from portal.web.htmx import page_or_partial

FORM_OVERHEAD_BYTES = 64 * 1024


class ConnectionController(Controller):
    path = "/entreprises/{dossier_id:uuid}/connexions"
    guards = (READS,)
    include_in_schema = False
    dependencies = DEPENDENCIES

    @get("/", name="integrations:connections")
    async def index(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections_page: NamedDependency[ConnectionsPage],
    ) -> Template:
        dossier = await dossiers.get_visible(principal_of(request), dossier_id, Permission.LEDGER_READ)
        context = await connections_page.context(request, dossier)
        return Template(template_name="integrations/connections.html", context=context)

    @get("/imports", name="integrations:imports", media_type=MediaType.HTML)
    async def imports(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        connections_page: NamedDependency[ConnectionsPage],
    ) -> Template:
        """The imports and fiscal years, refreshed every second while an import runs (htmx)."""
        dossier = await dossiers.get_visible(principal_of(request), dossier_id, Permission.LEDGER_READ)
        context = await connections_page.context(request, dossier)
        return HTMXTemplate(template_name="integrations/_partials/imports.html", context=context)

    @get("/imports/{import_id:uuid}", name="integrations:import")
    async def report(
        self,
        request: HTMXRequest,
        *,
        dossier_id: FromPath[uuid.UUID],
        import_id: FromPath[uuid.UUID],
        dossiers: NamedDependency[DossierService],
        ledger: NamedDependency[LedgerService],
    ) -> Template:
        """One import: its state and the report of its file (errors and warnings with line numbers)."""
        principal = principal_of(request)
        dossier = await dossiers.get_visible(principal, dossier_id, Permission.LEDGER_READ)
        record = await ledger.get_import(principal, dossier.id, import_id)
        report = fec.Report.from_dict(record.report) if record.report else None
        if report is not None:  # errors first, then warnings, each in file order
            report.issues.sort(key=lambda issue: (issue.severity is not fec.Severity.ERROR, issue.line or 0))
        context = {"dossier": dossier, "record": record, "report": report,
                   "fiscal_year": await ledger.fiscal_year_of(record),
                   "can_manage": principal.can(Permission.CONNECTIONS_MANAGE, dossier.id)}  # fmt: skip
        return page_or_partial(request, "integrations/import.html", "integrations/_partials/import_state.html", context)


def integration_routes(settings: Settings) -> Router:
    """The Connexions pages, whose uploads may carry a FEC of up to ``fec_max_bytes``."""
    return Router(
        path="/",
        route_handlers=[ConnectionController, PennylaneController, PennylaneCallbackController, FecUploadController],
        dependencies=page.DEPENDENCIES,
        request_max_body_size=settings.fec_max_bytes + FORM_OVERHEAD_BYTES,
    )
