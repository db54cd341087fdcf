"""The roles a person holds (firm-wide, or on one dossier) and the one role → permission table.

The Paramètres page renders its matrix from these tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from portal.auth.permissions import Permission
from portal.i18n import N_


class FirmRole(StrEnum):
    """A person's role in the firm. Labels are French msgids, translated in templates."""

    PARTNER = "partner"
    ADMIN = "admin"
    COLLABORATOR = "collaborator"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    FirmRole.PARTNER: N_("Associé"),
    FirmRole.ADMIN: N_("Administrateur"),
    FirmRole.COLLABORATOR: N_("Collaborateur"),
}


class DossierRole(StrEnum):
    """A person's role on one dossier. Every dossier-level permission check uses these."""

    # A collaborator of the firm keeping a dossier's books.
    ACCOUNTANT = "accountant"
    # People of the firm's own dossier: they file expense notes, or manage the firm's billing.
    EMPLOYEE = "employee"
    BILLING_MANAGER = "billing_manager"
    # Someone of the client company, on that company's dossier.
    CLIENT_USER = "client_user"
    # Someone invited to set the accounting mapping of the dossier's POS and e-commerce connections.
    MAPPER = "connection_mapper"

    @property
    def label(self) -> str:
        return _DOSSIER_LABELS[self]

    @property
    def for_firm_dossier(self) -> bool | None:
        """True: only on the firm's own dossiers; False: only on client dossiers; None: on any."""
        return _PLACES[self]


def in_order(roles: Iterable[DossierRole]) -> list[DossierRole]:
    """Dossier roles in the order the portal lists them (Comptable first)."""
    order = list(DossierRole)
    return sorted(roles, key=order.index)


_DOSSIER_LABELS = {
    DossierRole.ACCOUNTANT: N_("Comptable"),
    DossierRole.EMPLOYEE: N_("Employé"),
    DossierRole.BILLING_MANAGER: N_("Gestionnaire de facturation"),
    DossierRole.CLIENT_USER: N_("Utilisateur client"),
    DossierRole.MAPPER: N_("Paramétrage des connexions"),
}

_PLACES: dict[DossierRole, bool | None] = {
    DossierRole.ACCOUNTANT: None,
    DossierRole.EMPLOYEE: True,
    DossierRole.BILLING_MANAGER: True,
    DossierRole.CLIENT_USER: False,
    DossierRole.MAPPER: None,
}


P = Permission

ROLE_PERMISSIONS: dict[FirmRole, frozenset[Permission]] = {
    FirmRole.PARTNER: frozenset(
        {
            P.AUDIT_LOG_READ,
            P.BILLING_CLIENTS_CREATE,
            P.BILLING_CLIENTS_READ,
            P.BILLING_DUPLICATES_RESOLVE,
            P.BILLING_FEES_MANAGE,
            P.BILLING_FEES_READ,
            P.CONNECTIONS_MANAGE,
            P.CONNECTIONS_MAP,
            P.DOSSIERS_CREATE,
            P.DOSSIERS_EXPORT,
            P.DOSSIERS_READ,
            P.DOSSIERS_UPDATE,
            P.EXPENSES_APPROVE,
            P.JOBS_RUN_DIAGNOSTIC,
            P.KPI_PLAN,
            P.KPI_READ,
            P.LEDGER_DELETE,
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
            P.KPI_READ,
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
        {
            P.BILLING_FEES_READ,
            P.CONNECTIONS_MANAGE,
            P.CONNECTIONS_MAP,
            P.DOSSIERS_READ,
            P.KPI_PLAN,
            P.KPI_READ,
            P.LEDGER_DELETE,
            P.LEDGER_EXPORT,
            P.LEDGER_READ,
        }
    ),
    DossierRole.EMPLOYEE: frozenset({P.DOSSIERS_READ, P.EXPENSES_FILE}),
    # On the billing entity's dossier: the firm's fees (catalogue, lettres de mission, invoices, payments).
    DossierRole.BILLING_MANAGER: frozenset(
        {P.DOSSIERS_READ, P.EXPENSES_APPROVE, P.BILLING_FEES_MANAGE, P.BILLING_FEES_READ}
    ),
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
