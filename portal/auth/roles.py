"""The one role → permission table. The Paramètres page renders its matrix from it."""

from __future__ import annotations

from collections.abc import Iterable

from portal.auth.permissions import Permission
from portal.firm.roles import DossierRole, FirmRole

P = Permission

ROLE_PERMISSIONS: dict[FirmRole, frozenset[Permission]] = {
    FirmRole.PARTNER: frozenset(
        {
            P.AUDIT_LOG_READ,
            P.BILLING_CLIENTS_CREATE,
            P.BILLING_CLIENTS_READ,
            P.BILLING_DUPLICATES_RESOLVE,
            P.CONNECTIONS_MANAGE,
            P.CONNECTIONS_MAP,
            P.DOSSIERS_CREATE,
            P.DOSSIERS_EXPORT,
            P.DOSSIERS_READ,
            P.DOSSIERS_UPDATE,
            P.EXPENSES_APPROVE,
            P.JOBS_RUN_DIAGNOSTIC,
            P.LEDGER_EXPORT,
            P.LEDGER_READ,
            P.SETTINGS_READ,
            P.SETTINGS_UPDATE,
            P.USERS_INVITE,
            P.USERS_READ,
        }
    ),
    FirmRole.ADMIN: frozenset(
        {
            P.AUDIT_LOG_READ,
            P.BILLING_CLIENTS_CREATE,
            P.BILLING_CLIENTS_READ,
            P.CONNECTIONS_MANAGE,
            P.CONNECTIONS_MAP,
            P.DOSSIERS_CREATE,
            P.DOSSIERS_EXPORT,
            P.DOSSIERS_READ,
            P.JOBS_READ_ALL,
            P.LEDGER_READ,
            P.JOBS_RUN_DIAGNOSTIC,
            P.SETTINGS_READ,
            P.SETTINGS_UPDATE,
            P.USERS_INVITE,
            P.USERS_MANAGE,
            P.USERS_READ,
        }
    ),
    # A collaborator sees the dossiers they are members of (DOSSIER_ROLE_PERMISSIONS), not the whole firm.
    FirmRole.COLLABORATOR: frozenset({P.USERS_READ}),
}

DOSSIER_ROLE_PERMISSIONS: dict[DossierRole, frozenset[Permission]] = {
    DossierRole.ACCOUNTANT: frozenset(
        {P.CONNECTIONS_MANAGE, P.CONNECTIONS_MAP, P.DOSSIERS_READ, P.LEDGER_EXPORT, P.LEDGER_READ}
    ),
    DossierRole.EMPLOYEE: frozenset({P.DOSSIERS_READ, P.EXPENSES_FILE}),
    DossierRole.BILLING_MANAGER: frozenset({P.DOSSIERS_READ, P.EXPENSES_APPROVE}),
    DossierRole.CLIENT_USER: frozenset({P.DOSSIERS_READ}),
    # Someone invited onto a dossier's POS / e-commerce mapping (seed 002's delegation): that, and nothing else.
    DossierRole.MAPPER: frozenset({P.DOSSIERS_READ, P.CONNECTIONS_MAP}),
}
"""What each role grants on the dossier it is held on, and on that dossier only."""


def permissions_for(roles: Iterable[FirmRole]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


def dossier_permissions_for(roles: Iterable[DossierRole]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= DOSSIER_ROLE_PERMISSIONS[role]
    return frozenset(granted)


def dossier_roles_granting(permission: Permission) -> frozenset[DossierRole]:
    """The dossier roles that grant ``permission`` on their dossier (for SQL restrictions)."""
    return frozenset(role for role, granted in DOSSIER_ROLE_PERMISSIONS.items() if permission in granted)
