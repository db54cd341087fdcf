"""Which people a person sees on the Utilisateurs pages.

The people of the firm (anyone holding a firm role) are seen by every holder of the
permission. Someone who is only a user of dossiers (an Employé, a client user…) is seen
by those who may see at least one of these dossiers: a client user of a confidential
dossier does not exist for someone the dossier is hidden from, so the person never
gives the dossier away. People with no role at all are seen by everyone, as is oneself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, exists, false, not_, or_, select
from sqlalchemy.orm import aliased

from portal.accounts.models import DossierMembership, User, UserRole
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, Restriction
from portal.clients.models import Dossier
from portal.clients.policy import visible


def seen_member() -> Any:
    """An alias of ``DossierMembership`` for the person looked at.

    The visibility rule (``portal.clients.policy``) correlates its own membership
    subqueries (the viewer's) on the plain table: without an alias, the two would merge.
    """
    return aliased(DossierMembership, name="seen_member")


def user_visible(principal: Principal) -> ColumnElement[bool]:
    """``User`` may be seen by ``principal`` (who holds the permission to read people)."""
    membership = seen_member()
    return or_(
        User.id == principal.user_id,
        exists().where(UserRole.user_id == User.id),
        not_(exists().where(membership.user_id == User.id)),
        exists(
            select(membership.id)
            .join(Dossier, Dossier.id == membership.dossier_id)
            .where(membership.user_id == User.id, visible(principal))
        ),
    )


def _users(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    if not principal.can(permission):
        return statement.where(false())
    return statement.where(user_visible(principal))


# Registered by the domain's plugin.
RESTRICTIONS: tuple[tuple[type, Restriction], ...] = ((User, _users),)
