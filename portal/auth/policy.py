"""The permission model: who the signed-in person is, what they may do, which rows they may see.

Route guards ask ``Principal.can``; list, search, count and export queries go through
``restrict`` so that a row a person may not see is never loaded at all. Each domain
registers how its rows are restricted (its plugin calls ``register_restriction``); a model may have several
restrictions (its own domain's, and the clients domain's confidentiality rule for rows
that belong to a dossier), and a row must pass them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Select, false

from portal.auth.permissions import Permission
from portal.auth.roles import DossierRole, FirmRole, dossier_permissions_for, permissions_for


@dataclass(frozen=True)
class Principal:
    """The signed-in person, as every permission check sees them.

    A permission is held firm-wide (from the person's firm roles) or on one dossier (from
    their roles on that dossier): ``can(permission, dossier_id)`` asks for both.
    """

    user_id: uuid.UUID
    email: str
    name: str
    locale: str
    roles: frozenset[FirmRole]
    permissions: frozenset[Permission] = field(default=frozenset())
    dossier_roles: Mapping[uuid.UUID, frozenset[DossierRole]] = field(default_factory=dict, compare=False)

    @classmethod
    def build(
        cls,
        *,
        user_id: uuid.UUID,
        email: str,
        name: str,
        locale: str,
        roles: frozenset[FirmRole],
        dossier_roles: Mapping[uuid.UUID, frozenset[DossierRole]] | None = None,
    ) -> Principal:
        return cls(
            user_id=user_id,
            email=email,
            name=name,
            locale=locale,
            roles=roles,
            permissions=permissions_for(roles),
            dossier_roles=dict(dossier_roles or {}),
        )

    def can(self, permission: Permission, dossier_id: uuid.UUID | None = None) -> bool:
        """Firm-wide, or on ``dossier_id`` through the person's roles there.

        On a dossier, the caller must also have found the dossier visible (confidentiality
        is a row rule: ``portal.clients.policy.visible``).
        """
        if permission in self.permissions:
            return True
        if dossier_id is None:
            return False
        return permission in dossier_permissions_for(self.dossier_roles.get(dossier_id, ()))

    def can_somewhere(self, permission: Permission) -> bool:
        """Firm-wide or on at least one dossier (menus, and guards of pages that restrict their rows)."""
        return permission in self.permissions or bool(self.dossiers_where(permission))

    def dossiers_where(self, permission: Permission) -> list[uuid.UUID]:
        """The dossiers on which the person's own roles grant ``permission``."""
        return [
            dossier_id
            for dossier_id, roles in self.dossier_roles.items()
            if permission in dossier_permissions_for(roles)
        ]

    def roles_on(self, dossier_id: uuid.UUID) -> frozenset[DossierRole]:
        return self.dossier_roles.get(dossier_id, frozenset())

    def dossiers_as(self, role: DossierRole) -> list[uuid.UUID]:
        return [dossier_id for dossier_id, roles in self.dossier_roles.items() if role in roles]

    @property
    def sorted_roles(self) -> list[FirmRole]:
        return sorted(self.roles, key=list(FirmRole).index)


SelectT = TypeVar("SelectT", bound=Select[Any])
Restriction = Callable[[Select[Any], Principal, Permission], Select[Any]]
_restrictions: dict[type, list[Restriction]] = {}


def register_restriction(model: type, restriction: Restriction) -> None:
    """Register a way rows of ``model`` are narrowed to what a principal may see (all of them apply). Idempotent."""
    registered = _restrictions.setdefault(model, [])
    if restriction not in registered:
        registered.append(restriction)


def firm_wide(statement: Select[Any], principal: Principal, permission: Permission) -> Select[Any]:
    """The default rule: a firm-wide permission grants every row, its absence none."""
    return statement if principal.can(permission) else statement.where(false())


def restrict(statement: SelectT, principal: Principal, permission: Permission, model: type) -> SelectT:
    """Narrow ``statement`` (which selects ``model`` rows) to those ``principal`` holds ``permission`` on.

    Without a registered restriction, ``firm_wide`` applies.
    """
    restrictions = _restrictions.get(model) or [firm_wide]
    for restriction in restrictions:
        statement = restriction(statement, principal, permission)  # type: ignore[assignment]
    return statement
