"""Audit events."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db.base import Base, JsonB


class AuditEvent(Base):
    """One mutation: who, what, on which object, values before and after, from which request."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_object", "object_type", "object_id"),
        Index("ix_audit_event_created_at", "created_at"),
    )

    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    actor_label: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str] = mapped_column(String(80))
    object_id: Mapped[str | None] = mapped_column(String(64), default=None)
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonB, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonB, default=None)
    # The dossier the object belongs to, so the log hides what confidential dossiers hide.
    dossier_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    # The person the event is about (their account, roles, invitation): the log shows it only to
    # those who may see that person, by the rule of the Utilisateurs pages (``portal.firm.policy``).
    person_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
