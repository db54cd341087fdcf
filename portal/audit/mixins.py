"""Marks models whose every change lands in the audit log."""

from __future__ import annotations

import uuid
from typing import ClassVar


class Audited:
    """Mixin: inserts, updates and deletes of this model are recorded as ``AuditEvent`` rows.

    ``__audit_exclude__`` names columns never copied into the log (secrets, counters).
    ``audit_dossier_id`` names the dossier the row belongs to, if any: the log shows its
    events only to those who may see that dossier. ``audit_person_id`` names the person the
    row is about (an account, its roles, its invitation): the log shows its events only to
    those who may see that person.
    """

    __audit_exclude__: ClassVar[frozenset[str]] = frozenset()

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return None

    @property
    def audit_person_id(self) -> uuid.UUID | None:
        return None
