"""A notification to one person about one event, and each person's choice of channel per kind of notice.

A notification is written once per (event, recipient): ``uq_notification_event_recipient`` makes a
retried job or a replayed request a no-op. The row exists whatever the channels chosen: it also
records whether the email went out (``emailed_at``), so the email is sent once too. The unread
count reads ``ix_notification_unread`` (recipient, read_at) and the list
``ix_notification_recipient_created``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.audit.mixins import Audited
from portal.db.base import Base, JsonB, string_enum
from portal.i18n import N_


class Channel(StrEnum):
    """How a person wants to hear of one kind of notice."""

    BOTH = "both"
    IN_APP = "in_app"
    EMAIL = "email"

    @property
    def label(self) -> str:
        return _CHANNEL_LABELS[self]

    @property
    def in_app(self) -> bool:
        return self in {Channel.BOTH, Channel.IN_APP}

    @property
    def email(self) -> bool:
        return self in {Channel.BOTH, Channel.EMAIL}


_CHANNEL_LABELS = {
    Channel.BOTH: N_("Dans le portail et par e-mail"),
    Channel.IN_APP: N_("Dans le portail seulement"),
    Channel.EMAIL: N_("Par e-mail seulement"),
}

DEFAULT_CHANNEL = Channel.BOTH


class Notification(Base):
    """One notice to one person: its kind, what it is about (``params``), where it is handled (``target``)."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event_key", "recipient_id", name="uq_notification_event_recipient"),
        Index("ix_notification_recipient_created", "recipient_id", "created_at"),
        # The bell's count seeks (recipient, read_at IS NULL) here.
        Index("ix_notification_unread", "recipient_id", "read_at"),
    )

    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    # The dossier it is about: the notice is hidden with it, and its name is read when shown.
    dossier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"), default=None)
    # The portal path where the notice is handled (a note, a connection, an import, the reports).
    target: Mapped[str] = mapped_column(String(300))
    params: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    # One event, one key (``expense-submitted:<note>:<transition>``): with the recipient, unique.
    event_key: Mapped[str] = mapped_column(String(200))
    # The channels chosen by the recipient when the event happened.
    in_app: Mapped[bool] = mapped_column(default=True)
    by_email: Mapped[bool] = mapped_column(default=True)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    emailed_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class NotificationPreference(Audited, Base):
    """A person's channel for one kind of notice (no row: ``DEFAULT_CHANNEL``). Audited."""

    __tablename__ = "notification_preference"
    __table_args__ = (UniqueConstraint("user_id", "topic", name="uq_notification_preference"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(32))
    channel: Mapped[Channel] = mapped_column(string_enum(Channel), default=DEFAULT_CHANNEL)

    @property
    def audit_person_id(self) -> uuid.UUID | None:
        return self.user_id
