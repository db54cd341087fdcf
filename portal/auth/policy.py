"""The permission model: who the signed-in person is, what they may do, which rows they may see.

Route guards ask ``Principal.can``; list, search, count and export queries go through
``restrict`` so that a row a person may not see is never loaded at all. Each domain
registers how its rows are restricted with ``restriction_for``; a model may have several
restrictions (its own domain's, and the clients domain's confidentiality rule for rows
that belong to a dossier), and a row must pass them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Select, false

from portal.auth.permissions import Permission
from portal.auth.roles import permissions_for
from portal.firm.roles import FirmRole


@dataclass(frozen=True)
class Principal:
    """The signed-in person, as every permission check sees them."""

    user_id: uuid.UUID
    email: str
    name: str
    locale: str
    roles: frozenset[FirmRole]
    permissions: frozenset[Permission] = field(default=frozenset())

    @classmethod
    def build(cls, *, user_id: uuid.UUID, email: str, name: str, locale: str, roles: frozenset[FirmRole]) -> Principal:
        return cls(
            user_id=user_id,
            email=email,
            name=name,
            locale=locale,
            roles=roles,
            permissions=permissions_for(roles),
        )

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def sorted_roles(self) -> list[FirmRole]:
        return sorted(self.roles, key=list(FirmRole).index)


SelectT = TypeVar("SelectT", bound=Select[Any])
Restriction = Callable[[Select[Any], Principal, Permission], Select[Any]]
_restrictions: dict[type, list[Restriction]] = {}


def restriction_for(model: type) -> Callable[[Restriction], Restriction]:
    """Register a way rows of ``model`` are narrowed to what a principal may see (all of them apply)."""

    def register(function: Restriction) -> Restriction:
        registered = _restrictions.setdefault(model, [])
        if function not in registered:
            registered.append(function)
        return function

    return register


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
