"""Firm-wide roles a person can hold."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

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
