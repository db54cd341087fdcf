"""Firm-wide roles a person can hold."""

from __future__ import annotations

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
