"""Who sees the client base: holders of the permission, minus every client tied to a hidden dossier."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, not_

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, Restriction, firm_wide
from portal.billing.models import BillingClient, ClientDossierLink, DuplicateCandidate
from portal.clients.models import Dossier
from portal.clients.policy import hidden, not_hidden


def client_not_hidden(principal: Principal, client_id: Any) -> Any:
    """The client (by id column) is tied to no dossier ``principal`` may not see."""
    tied_to_hidden = exists().where(
        ClientDossierLink.client_id == client_id, ClientDossierLink.dossier_id == Dossier.id, hidden(principal)
    )
    return not_(tied_to_hidden)


def _clients(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    statement = firm_wide(statement, principal, permission)
    return statement.where(
        client_not_hidden(principal, BillingClient.id), not_hidden(principal, BillingClient.origin_dossier_id)
    )


def _duplicates(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    statement = firm_wide(statement, principal, permission)
    client = BillingClient.__table__.alias("flagged")
    candidate = BillingClient.__table__.alias("existing")
    return statement.where(
        exists().where(client.c.id == DuplicateCandidate.client_id, not_hidden(principal, client.c.origin_dossier_id)),
        exists().where(
            candidate.c.id == DuplicateCandidate.candidate_id, not_hidden(principal, candidate.c.origin_dossier_id)
        ),
        client_not_hidden(principal, DuplicateCandidate.client_id),
        client_not_hidden(principal, DuplicateCandidate.candidate_id),
    )


# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = (
    (BillingClient, _clients),
    (DuplicateCandidate, _duplicates),
)
