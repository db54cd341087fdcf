"""Marks models whose every change lands in the audit log."""

from __future__ import annotations

from typing import ClassVar


class Audited:
    """Mixin: inserts, updates and deletes of this model are recorded as ``AuditEvent`` rows.

    ``__audit_exclude__`` names columns never copied into the log (secrets, counters).
    """

    __audit_exclude__: ClassVar[frozenset[str]] = frozenset()
