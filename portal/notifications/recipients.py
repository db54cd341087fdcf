"""Who may be told of an event on a dossier: the permission model, asked when the event happens.

A person is told only if they hold the permission on the dossier (firm-wide through a firm role,
or through their role on it) and the dossier is not hidden from them: on a confidential dossier,
a firm-wide holder must be granted it (its access list, or a role on it), exactly as
``portal.clients.policy.visible`` decides for the pages.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Select, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import DossierMembership, User, UserRole
from portal.auth.permissions import Permission
from portal.auth.roles import ROLE_PERMISSIONS, dossier_roles_granting
from portal.clients.models import Dossier, DossierAccess


def _holders(dossier: Dossier, permission: Permission) -> Select[uuid.UUID]:
    firm_roles = [role for role, granted in ROLE_PERMISSIONS.items() if permission in granted]
    firm_wide = select(UserRole.user_id).where(UserRole.role.in_(firm_roles))
    if dossier.is_confidential:
        listed = select(DossierAccess.user_id).where(DossierAccess.dossier_id == dossier.id)
        members = select(DossierMembership.user_id).where(DossierMembership.dossier_id == dossier.id)
        firm_wide = firm_wide.where(UserRole.user_id.in_(union(listed, members)))
    by_role = select(DossierMembership.user_id).where(
        DossierMembership.dossier_id == dossier.id,
        DossierMembership.role.in_(dossier_roles_granting(permission)),
    )
    return select(User.id).where(User.is_active.is_(True), User.id.in_(union(firm_wide, by_role)))


async def holders(
    session: AsyncSession,
    permission: Permission,
    dossier_id: uuid.UUID,
    *,
    among: Iterable[uuid.UUID | None] | None = None,
) -> list[uuid.UUID]:
    """The active people who hold ``permission`` on the dossier and may see it (only ``among`` these, if given)."""
    dossier = await session.get(Dossier, dossier_id)
    if dossier is None:
        return []
    statement = _holders(dossier, permission)
    if among is not None:
        candidates = {person for person in among if person is not None}
        if not candidates:
            return []
        statement = statement.where(User.id.in_(candidates))
    return list((await session.execute(statement.order_by(User.id))).scalars())


async def members_as(session: AsyncSession, dossier_id: uuid.UUID, *roles: object) -> list[uuid.UUID]:
    """The people holding one of ``roles`` on the dossier (candidates, to pass through ``holders``)."""
    statement = select(DossierMembership.user_id).where(
        DossierMembership.dossier_id == dossier_id, DossierMembership.role.in_(roles)
    )
    return list((await session.execute(statement)).scalars())
