"""The billing entity's client base: clients, the dossiers they are linked to, possible duplicates.

The billing entity is one of the firm's own dossiers (``Firm.billing_entity_id``). Its
client base has one client per SIREN (a unique constraint, so concurrent jobs cannot
double one) and one link per dossier. A client may serve several dossiers once two
duplicates are merged; every link is kept.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.audit.mixins import Audited
from portal.clients.models import Dossier, IdentifiedBySiren
from portal.db.base import Base
from portal.i18n import N_


class BillingClient(IdentifiedBySiren, Audited, Base):
    """A client in the billing entity's client base."""

    __tablename__ = "billing_client"
    __table_args__ = (
        UniqueConstraint("billing_entity_id", "siren", name="uq_billing_client_entity_siren"),
        UniqueConstraint("billing_entity_id", "origin_dossier_id", name="uq_billing_client_entity_origin"),
        Index("ix_billing_client_entity_sort", "billing_entity_id", "sort_name", "id"),
        Index("ix_billing_client_entity_match", "billing_entity_id", "match_name"),
    )

    billing_entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    sort_name: Mapped[str] = mapped_column(String(200))
    match_name: Mapped[str] = mapped_column(String(200))
    siren: Mapped[str | None] = mapped_column(String(9), default=None)
    # The dossier this client was created for ("Créer mes clients" or a new dossier).
    origin_dossier_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("dossier.id", ondelete="SET NULL"), default=None
    )
    # Who receives its invoices and lettres de mission.
    billing_contact: Mapped[str] = mapped_column(String(200), default="", server_default="")
    billing_email: Mapped[str] = mapped_column(String(254), default="", server_default="")

    links: Mapped[list[ClientDossierLink]] = relationship(
        back_populates="client", lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.origin_dossier_id


class ClientDossierLink(Audited, Base):
    """A dossier billed through a client of the billing entity (one client per dossier and entity)."""

    __tablename__ = "billing_client_dossier"
    __table_args__ = (
        UniqueConstraint("billing_entity_id", "dossier_id", name="uq_billing_client_dossier_entity_dossier"),
    )

    billing_entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_client.id", ondelete="CASCADE"), index=True)
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"), index=True)

    client: Mapped[BillingClient] = relationship(back_populates="links")
    dossier: Mapped[Dossier] = relationship(foreign_keys=[dossier_id], lazy="joined")

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.dossier_id


class DuplicateStatus(StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"

    @property
    def label(self) -> str:
        return N_("À vérifier") if self is DuplicateStatus.OPEN else N_("Écarté")


class DuplicateCandidate(Audited, Base):
    """Two clients that may be the same company: same name once normalised, at least one without SIREN.

    ``client`` is the one flagged (without SIREN, or the newer), ``candidate`` the one it
    may duplicate. A dismissed pair stays, so it is never flagged again.
    """

    __tablename__ = "billing_duplicate"
    __table_args__ = (
        UniqueConstraint("client_id", "candidate_id", name="uq_billing_duplicate_pair"),
        Index("ix_billing_duplicate_entity_status", "billing_entity_id", "status"),
    )

    billing_entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_client.id", ondelete="CASCADE"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_client.id", ondelete="CASCADE"), index=True)
    status: Mapped[DuplicateStatus] = mapped_column(
        Enum(DuplicateStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=DuplicateStatus.OPEN,
    )
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    resolved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    client: Mapped[BillingClient] = relationship(foreign_keys=[client_id], lazy="joined")
    candidate: Mapped[BillingClient] = relationship(foreign_keys=[candidate_id], lazy="joined")
