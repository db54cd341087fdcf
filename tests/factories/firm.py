"""People and the firm."""

from __future__ import annotations

import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import DossierMembership, User
from portal.auth.roles import DossierRole, FirmRole
from portal.clients.models import Dossier
from portal.firm.models import Firm
from portal.firm.services import UserService

PASSWORD = "mot-de-passe-de-test-solide"
_sequence = itertools.count(1)


async def make_user(
    session: AsyncSession,
    *,
    roles: tuple[FirmRole, ...] = (FirmRole.COLLABORATOR,),
    email: str | None = None,
    name: str | None = None,
    password: str = PASSWORD,
) -> User:
    number = next(_sequence)
    user = await UserService(session=session).create_user(
        email=email or f"personne{number}@cabinet-test.fr",
        name=name or f"Personne {number}",
        roles=roles,
        password=password,
    )
    await session.flush()
    return user


async def make_firm(session: AsyncSession, *, name: str = "Cabinet Test") -> Firm:
    firm = Firm(name=name)
    session.add(firm)
    await session.flush()
    return firm


async def add_role(session: AsyncSession, user: User, dossier: Dossier, role: DossierRole) -> DossierMembership:
    """Give ``user`` ``role`` on ``dossier`` (a Comptable, an Employé…)."""
    membership = DossierMembership(dossier_id=dossier.id, user_id=user.id, role=role)
    session.add(membership)
    await session.flush()
    return membership
