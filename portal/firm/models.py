"""The firm and the invitations it sends to its people."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.audit.mixins import Audited
from portal.db.base import Base

if TYPE_CHECKING:
    from portal.clients.models import Dossier


class Firm(Audited, Base):
    """The accounting firm running this portal (one per installation)."""

    __tablename__ = "firm"

    name: Mapped[str] = mapped_column(String(200))
    own_dossier_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("dossier.id", ondelete="SET NULL"), default=None
    )
    # The entité facturante: the firm's dossier whose client base bills the client dossiers.
    billing_entity_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("dossier.id", ondelete="SET NULL"), default=None
    )
    # Since when partners and administrators must use a second factor (None: optional for everyone),
    # and how many days each has, from their first sign-in under the rule, to enrol.
    second_factor_required_since: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    second_factor_grace_days: Mapped[int] = mapped_column(Integer, default=7)
    # Alertes du tableau de bord (Accueil): a fall of the chiffre d'affaires on N-1 at the same date beyond
    # this percentage, a DSO beyond this many days, and whether a negative trésorerie nette is an alert.
    alert_revenue_drop_percent: Mapped[int] = mapped_column(Integer, default=20)
    alert_dso_days: Mapped[int] = mapped_column(Integer, default=60)
    alert_negative_cash: Mapped[bool] = mapped_column(Boolean, default=True)
    own_dossier: Mapped[Dossier | None] = relationship(lazy="joined", foreign_keys=[own_dossier_id])
    billing_entity: Mapped[Dossier | None] = relationship(lazy="joined", foreign_keys=[billing_entity_id])


class Invitation(Audited, Base):
    """The link that lets an invited person set their password and sign in (one per person).

    Only the SHA-256 of the link's token is kept. The token is drawn by the job that
    sends the email, so it exists in clear only in that email; each sending draws a
    new one and the previous link stops working.
    """

    __tablename__ = "invitation"
    __audit_exclude__ = frozenset({"token_hash", "deliveries_sent"})

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # Each "send" or "resend" asks for one more delivery; the sending job is idempotent on this count.
    deliveries_requested: Mapped[int] = mapped_column(Integer, default=1)
    deliveries_sent: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")

    @property
    def audit_person_id(self) -> uuid.UUID | None:
        return self.user_id
