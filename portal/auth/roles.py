"""The one role → permission table. The Paramètres page renders its matrix from it."""

from __future__ import annotations

from collections.abc import Iterable

from portal.auth.permissions import Permission
from portal.firm.roles import FirmRole

P = Permission

ROLE_PERMISSIONS: dict[FirmRole, frozenset[Permission]] = {
    FirmRole.PARTNER: frozenset(
        {
            P.AUDIT_LOG_READ,
            P.BILLING_CLIENTS_CREATE,
            P.BILLING_CLIENTS_READ,
            P.BILLING_DUPLICATES_RESOLVE,
            P.DOSSIERS_CREATE,
            P.DOSSIERS_EXPORT,
            P.DOSSIERS_READ,
            P.DOSSIERS_UPDATE,
            P.JOBS_RUN_DIAGNOSTIC,
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
            P.DOSSIERS_CREATE,
            P.DOSSIERS_EXPORT,
            P.DOSSIERS_READ,
            P.JOBS_READ_ALL,
            P.JOBS_RUN_DIAGNOSTIC,
            P.SETTINGS_READ,
            P.SETTINGS_UPDATE,
            P.USERS_INVITE,
            P.USERS_MANAGE,
            P.USERS_READ,
        }
    ),
    # A collaborator sees the dossiers they are given access to (dossier-level grants), not the whole firm.
    FirmRole.COLLABORATOR: frozenset({P.USERS_READ}),
}


def permissions_for(roles: Iterable[FirmRole]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)
