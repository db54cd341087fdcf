"""A dossier's Connexions page, as every source's controllers render it: what it shows, and again
with a form's errors (the FEC upload, a pasted token).
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from portal.auth.guards import principal_of
from portal.auth.permissions import Permission
from portal.clients.models import Dossier
from portal.integrations.commerce.services import CommerceConnectionService
from portal.integrations.pennylane.services import PennylaneService
from portal.jobs.services import JobRunService
from portal.ledger.services import LedgerService

# The background work the Connexions page follows live, besides the imports themselves.
FOLLOWED_JOBS = ("pennylane.import_fiscal_years", "pennylane.fiscal_years", "ledger.import_fec")


async def connections_context(
    request: Request[Any, Any, Any],
    dossier: Dossier,
    connections: PennylaneService,
    ledger: LedgerService,
    **extra: Any,
) -> dict[str, Any]:
    principal = principal_of(request)
    imports = await ledger.recent_imports(principal, dossier.id)
    runs = await JobRunService(session=ledger.session).unfinished_about(principal, dossier.id, FOLLOWED_JOBS)
    return {
        "dossier": dossier,
        "pennylane": await connections.pennylane(principal, dossier.id),
        "fiscal_years": await ledger.fiscal_years(principal, dossier.id),
        "imports": imports,
        "runs": runs,
        "unfinished": bool(runs) or any(not record.status.is_final for record in imports),
        "commerce": await CommerceConnectionService(ledger.session).catalogue(
            principal, dossier.id, Permission.LEDGER_READ
        ),
        "can_manage": principal.can(Permission.CONNECTIONS_MANAGE, dossier.id),
        "can_export": principal.can(Permission.LEDGER_EXPORT, dossier.id),
        "upload_form": {"debut": "", "fin": ""},
        "upload_errors": {},
        "token_errors": {},
        **extra,
    }
