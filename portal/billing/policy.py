"""Who sees the client base: holders of the permission, minus every client tied to a hidden dossier."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, not_, or_, select

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, Restriction, firm_wide
from portal.billing.fee_models import BankLine, BillingRun, Engagement, FeeEntry, Invoice, Payment, Service
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
    """Every client for a firm-wide holder (the base clients permissions are only firm-wide); asked with a fees
    permission, also for whoever holds it on the billing entity (its Gestionnaire de facturation) or on one of the
    client's dossiers (a Comptable): the clients whose fees they read or manage."""
    shown = (client_not_hidden(principal, BillingClient.id), not_hidden(principal, BillingClient.origin_dossier_id))
    if principal.can(permission):
        return statement.where(*shown)
    on_entity = entity_wide(principal, permission, BillingClient.billing_entity_id)
    return statement.where(or_(on_entity, _through_dossier(principal, permission)), *shown)


def _through_dossier(principal: Principal, permission: Permission) -> ColumnElement[bool]:
    """``BillingClient`` is linked to a dossier on which the person holds ``permission`` (a Comptable's)."""
    held_on = principal.dossiers_where(permission)
    if not held_on:
        return false()
    return exists().where(ClientDossierLink.client_id == BillingClient.id, ClientDossierLink.dossier_id.in_(held_on))


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


def entity_wide(principal: Principal, permission: Permission, entity_id: Any) -> ColumnElement[bool]:
    """``permission`` is held firm-wide, or on the billing entity's dossier (its Gestionnaire de facturation)."""
    if principal.can(permission):
        return not_(false())
    where = principal.dossiers_where(permission)
    held: ColumnElement[bool] = entity_id.in_(where) if where else false()
    return held


def client_fees(principal: Principal, permission: Permission, entity_id: Any, client_id: Any) -> ColumnElement[bool]:
    """A client's fees (its lettres de mission, invoices, payments): held entity-wide, or on one of the client's
    dossiers (a Comptable reads the billing of their dossiers); never a client tied to a hidden dossier."""
    held_on = principal.dossiers_where(permission)
    through_dossier = (
        exists().where(ClientDossierLink.client_id == client_id, ClientDossierLink.dossier_id.in_(held_on))
        if held_on
        else false()
    )
    origin_shown = exists(
        select(BillingClient.id).where(
            BillingClient.id == client_id, not_hidden(principal, BillingClient.origin_dossier_id)
        )
    )
    return and_(
        or_(entity_wide(principal, permission, entity_id), through_dossier),
        client_not_hidden(principal, client_id),
        origin_shown,
    )


def _client_rows(model: Any) -> Restriction:
    def restriction(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
        return statement.where(client_fees(principal, permission, model.entity_id, model.client_id))

    return restriction


def _entity_rows(model: Any) -> Restriction:
    def restriction(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
        return statement.where(entity_wide(principal, permission, model.entity_id))

    return restriction


# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = (
    (BillingClient, _clients),
    (DuplicateCandidate, _duplicates),
    (Engagement, _client_rows(Engagement)),
    (Invoice, _client_rows(Invoice)),
    (Payment, _client_rows(Payment)),
    (Service, _entity_rows(Service)),
    (BillingRun, _entity_rows(BillingRun)),
    (BankLine, _entity_rows(BankLine)),
    (FeeEntry, _entity_rows(FeeEntry)),
)
