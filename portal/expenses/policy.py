"""Who sees which expense note.

A note is seen by its author and by the approvers of its dossier: holders of the
firm-wide ``EXPENSES_APPROVE`` (partners) and the dossier's Gestionnaire de facturation.
Asked for ``EXPENSES_APPROVE``, only the notes the person approves are kept (their own
included: the service refuses self-approval with a message). Either way a note of a
dossier hidden from the person (confidential, not on its access list) never shows, like
everything else that belongs to that dossier; a forbidden note answers 404.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, exists, or_, true

from portal.accounts.models import DossierMembership
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, Restriction
from portal.auth.roles import dossier_roles_granting
from portal.clients.policy import not_hidden
from portal.expenses.models import ExpenseNote


def approves(principal: Principal) -> ColumnElement[bool]:
    """``ExpenseNote`` is on a dossier ``principal`` approves notes of (firm-wide, or through a role there)."""
    if principal.can(Permission.EXPENSES_APPROVE):
        return true()
    return exists().where(
        DossierMembership.dossier_id == ExpenseNote.dossier_id,
        DossierMembership.user_id == principal.user_id,
        DossierMembership.role.in_(dossier_roles_granting(Permission.EXPENSES_APPROVE)),
    )


def _notes(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    if permission is Permission.EXPENSES_APPROVE:
        seen = approves(principal)
    else:
        seen = or_(ExpenseNote.author_id == principal.user_id, approves(principal))
    return statement.where(seen, not_hidden(principal, ExpenseNote.dossier_id))


# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = ((ExpenseNote, _notes),)
