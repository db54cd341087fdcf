"""A dossier's Connexions page, as every source's controllers render it: what it shows, and again
with a form's errors (the FEC upload, a pasted token); and the dependencies of the router that
serves the page and the controllers around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.response import Template
from litestar_htmx import HTMXRequest

from portal.auth.guards import principal_of
from portal.auth.permissions import Permission
from portal.clients.models import Dossier
from portal.integrations.commerce.services import CommerceConnectionService
from portal.integrations.pennylane import tasks
from portal.integrations.pennylane.services import PennylaneService
from portal.jobs.services import JobRunService
from portal.ledger.controllers import UploadRefusedPage
from portal.ledger.services import LedgerService
from portal.ledger.tasks import import_fec
from portal.web.deps import provide

# The background work the Connexions page follows live, besides the imports themselves.
FOLLOWED_JOBS = (tasks.import_fiscal_years, tasks.fiscal_years, import_fec)


class ConnectionsPage(UploadRefusedPage):
    """The Connexions page: what it shows (``context``), and again with a form's errors (``again``, 422).

    It is also what the ledger's FEC upload shows when it refuses a file.
    """

    def __init__(
        self, pennylane: PennylaneService, commerce: CommerceConnectionService, ledger: LedgerService,
        jobs: JobRunService,
    ) -> None:  # fmt: skip
        self.pennylane, self.commerce, self.ledger, self.jobs = pennylane, commerce, ledger, jobs

    async def context(self, request: Request[Any, Any, Any], dossier: Dossier, **extra: Any) -> dict[str, Any]:
        principal = principal_of(request)
        imports = await self.ledger.recent_imports(principal, dossier.id)
        runs = await self.jobs.unfinished_about(principal, dossier.id, FOLLOWED_JOBS)
        return {
            "dossier": dossier,
            "pennylane": await self.pennylane.pennylane(principal, dossier.id),
            "fiscal_years": await self.ledger.fiscal_years(principal, dossier.id),
            "imports": imports,
            "runs": runs,
            "unfinished": bool(runs) or any(record.status.in_progress for record in imports),
            "commerce": await self.commerce.catalogue(principal, dossier.id, Permission.LEDGER_READ),
            "can_manage": principal.can(Permission.CONNECTIONS_MANAGE, dossier.id),
            "can_export": principal.can(Permission.LEDGER_EXPORT, dossier.id),
            "can_delete": principal.can(Permission.LEDGER_DELETE, dossier.id),
            "upload_form": {"debut": "", "fin": ""},
            "upload_errors": {},
            "token_errors": {},
            **extra,
        }

    async def again(self, request: Request[Any, Any, Any], dossier: Dossier, **extra: Any) -> Template:
        """The page with a form open and its errors (``open_form``, ``…_errors``): 422."""
        context = await self.context(request, dossier, **extra)
        return Template(template_name="integrations/connections.html", context=context, status_code=422)

    async def __call__(
        self, request: HTMXRequest, dossier: Dossier, *, values: dict[str, str], errors: dict[str, str]
    ) -> Template:
        return await self.again(request, dossier, upload_form=values, upload_errors=errors, open_form="fec")


def provide_connections_page(
    connections: NamedDependency[PennylaneService],
    commerce: NamedDependency[CommerceConnectionService],
    ledger: NamedDependency[LedgerService],
    job_runs: NamedDependency[JobRunService],
) -> ConnectionsPage:
    return ConnectionsPage(connections, commerce, ledger, job_runs)


def provide_upload_refused_page(connections_page: NamedDependency[ConnectionsPage]) -> UploadRefusedPage:
    return connections_page


DEPENDENCIES: Mapping[str, Provide] = {
    "connections": provide(PennylaneService),
    "commerce": provide(CommerceConnectionService),
    "job_runs": provide(JobRunService),
    "connections_page": Provide(provide_connections_page, sync_to_thread=False),
    "upload_refused_page": Provide(provide_upload_refused_page, sync_to_thread=False),
}
"""What the Connexions pages' router provides to every controller under it."""
