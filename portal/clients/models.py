"""Client dossiers (Entreprises): identity, details, confidentiality and the words they are found by."""

from __future__ import annotations

import uuid
from enum import StrEnum

from advanced_alchemy.base import DefaultBase
from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from portal.audit.mixins import Audited
from portal.clients import names
from portal.clients.identifiers import format_siren, format_siret, vat_number
from portal.db.base import Base
from portal.i18n import N_


class DossierStatus(StrEnum):
    ONBOARDING = "onboarding"
    ACTIVE = "active"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    DossierStatus.ONBOARDING: N_("En mise en place"),
    DossierStatus.ACTIVE: N_("Actif"),
    DossierStatus.ARCHIVED: N_("Archivé"),
}


class IdentifiedBySiren:
    """A company known by its SIREN (or not yet): the VAT number and display forms derive from it."""

    siren: str | None

    @property
    def vat_number(self) -> str | None:
        return vat_number(self.siren) if self.siren else None

    @property
    def siren_display(self) -> str:
        return format_siren(self.siren)


class Dossier(IdentifiedBySiren, Audited, Base):
    """A company the firm keeps the books of (the firm's own dossiers included).

    The SIREN is the identity: unique, so a company can have one dossier only. A SIRET
    given at creation is kept as SIREN + NIC. ``sort_name`` and ``match_name`` are
    derived from the name whenever it is set (see ``portal.clients.names``).
    """

    __tablename__ = "dossier"
    __table_args__ = (
        CheckConstraint("closing_month BETWEEN 1 AND 12", name="closing_month"),
        CheckConstraint("closing_day BETWEEN 1 AND 31", name="closing_day"),
        Index("ix_dossier_sort_name", "sort_name", "id"),
        Index("ix_dossier_created_at", "created_at"),
        # Covers the confidentiality filter (``portal.clients.policy``): counting the dossiers a
        # person may see reads this index, not every row, on SQLite.
        Index("ix_dossier_confidential_id", "is_confidential", "id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    sort_name: Mapped[str] = mapped_column(String(200), default="")
    match_name: Mapped[str] = mapped_column(String(200), default="", index=True)
    siren: Mapped[str | None] = mapped_column(String(9), unique=True, default=None)
    nic: Mapped[str | None] = mapped_column(String(5), default=None)
    legal_form: Mapped[str | None] = mapped_column(String(60), default=None)
    address: Mapped[str | None] = mapped_column(String(300), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(10), default=None)
    city: Mapped[str | None] = mapped_column(String(120), default=None)
    closing_day: Mapped[int] = mapped_column(SmallInteger, default=31)
    closing_month: Mapped[int] = mapped_column(SmallInteger, default=12)
    status: Mapped[DossierStatus] = mapped_column(
        Enum(DossierStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=DossierStatus.ACTIVE,
    )
    is_firm_dossier: Mapped[bool] = mapped_column(Boolean, default=False)
    is_confidential: Mapped[bool] = mapped_column(Boolean, default=False)

    @validates("name")
    def _derive_name_keys(self, _key: str, value: str) -> str:
        value = " ".join(value.split())
        self.sort_name = names.sort_key(value)
        self.match_name = names.match_key(value)
        return value

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.id

    @property
    def siret_display(self) -> str:
        return format_siret(self.siren, self.nic)

    @property
    def closing_display(self) -> str:
        return f"{self.closing_day:02d}/{self.closing_month:02d}"


class DossierNameTerm(DefaultBase):
    """A word of a dossier's name; searching matches words by prefix through this index.

    Kept in step with ``Dossier.name`` by ``portal.clients.search`` after every flush.
    """

    __tablename__ = "dossier_name_term"
    __table_args__ = (Index("ix_dossier_name_term_dossier", "dossier_id"),)

    # Byte order on PostgreSQL too, so a prefix is an index range (SQLite compares bytes already).
    term: Mapped[str] = mapped_column(
        String(names.MAX_TERM_LENGTH).with_variant(String(names.MAX_TERM_LENGTH, collation="C"), "postgresql"),
        primary_key=True,
    )
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"), primary_key=True)


class DossierAccess(Audited, Base):
    """Who may see a confidential dossier. Only read when the dossier is confidential."""

    __tablename__ = "dossier_access"
    __table_args__ = (UniqueConstraint("dossier_id", "user_id"), Index("ix_dossier_access_user", "user_id"))

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    granted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.dossier_id

    @property
    def audit_person_id(self) -> uuid.UUID | None:
        return self.user_id
