"""Expense notes, their lines, receipts and the history of their status.

A note belongs to one of the firm's own dossiers (where its author is Employé) and is
numbered ``NDF-<year>-<sequence>`` when created. Money is ``Numeric(12, 2)``, read as
``Decimal``. Lines and receipts can change only while the note is a draft; status
changes are conditional UPDATEs (see ``portal.expenses.services``) and each leaves a
``ExpenseTransition`` row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.audit.mixins import Audited
from portal.clients.models import Dossier
from portal.db.base import Base, string_enum
from portal.expenses.categories import ExpenseCategory
from portal.i18n import N_

Money = Numeric(12, 2, asdecimal=True)


class NoteStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REFUSED = "refused"
    PAID = "paid"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    NoteStatus.DRAFT: N_("Brouillon"),
    NoteStatus.SUBMITTED: N_("Soumise"),
    NoteStatus.APPROVED: N_("Approuvée"),
    NoteStatus.REFUSED: N_("Refusée"),
    NoteStatus.PAID: N_("Payée"),
}


class ExpenseNote(Audited, Base):
    """One employee's claim: lines, then submitted, approved or refused, then paid."""

    __tablename__ = "expense_note"
    __table_args__ = (
        UniqueConstraint("year", "sequence", name="uq_expense_note_number"),
        Index("ix_expense_note_author", "author_id", "created_at"),
        Index("ix_expense_note_dossier_status", "dossier_id", "status"),
        Index("ix_expense_note_accounting_date", "accounting_date"),
    )

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="RESTRICT"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    year: Mapped[int] = mapped_column(SmallInteger)
    sequence: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[NoteStatus] = mapped_column(string_enum(NoteStatus, 16), default=NoteStatus.DRAFT)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # The entry's date in the books: the (firm-local) day it was approved.
    accounting_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    # 421 for a salaried employee, 467 for a partner (associé): fixed when the note is approved.
    payable_account: Mapped[str | None] = mapped_column(String(8), default=None)
    paid_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    dossier: Mapped[Dossier] = relationship(lazy="joined", innerjoin=True)
    author: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    lines: Mapped[list[ExpenseLine]] = relationship(
        back_populates="note",
        lazy="selectin",
        order_by="(ExpenseLine.expense_date, ExpenseLine.created_at)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    transitions: Mapped[list[ExpenseTransition]] = relationship(
        lazy="raise", order_by="ExpenseTransition.created_at", viewonly=True
    )

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.dossier_id

    @property
    def reference(self) -> str:
        return f"NDF-{self.year}-{self.sequence:04d}"

    @property
    def total_ttc(self) -> Decimal:
        return sum((line.amount_ttc for line in self.lines), Decimal("0.00"))

    @property
    def total_vat(self) -> Decimal:
        return sum((line.vat_amount for line in self.lines), Decimal("0.00"))


class ExpenseLine(Audited, Base):
    """An expense from a receipt, or a trip paid by the barème kilométrique (``category`` is MILEAGE)."""

    __tablename__ = "expense_line"
    __table_args__ = (
        CheckConstraint("amount_ttc > 0", name="amount_positive"),
        CheckConstraint("vat_amount >= 0 AND vat_amount <= amount_ttc", name="vat_within_amount"),
        Index("ix_expense_line_note", "note_id", "expense_date"),
    )

    note_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("expense_note.id", ondelete="CASCADE"))
    expense_date: Mapped[dt.date] = mapped_column(Date)
    category: Mapped[ExpenseCategory] = mapped_column(string_enum(ExpenseCategory, 32))
    merchant: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(300), default=None)
    amount_ttc: Mapped[Decimal] = mapped_column(Money)
    vat_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    # Mileage lines: what was typed, and where the trip fell in the year's scale when saved.
    horsepower: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    distance_km: Mapped[int | None] = mapped_column(Integer, default=None)
    electric: Mapped[bool] = mapped_column(Boolean, default=False)
    prior_km: Mapped[int | None] = mapped_column(Integer, default=None)
    scale_year: Mapped[int | None] = mapped_column(SmallInteger, default=None)

    note: Mapped[ExpenseNote] = relationship(back_populates="lines")
    receipt: Mapped[ExpenseReceipt | None] = relationship(
        back_populates="line", lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.note.dossier_id

    @property
    def is_mileage(self) -> bool:
        return self.category is ExpenseCategory.MILEAGE

    @property
    def amount_ht(self) -> Decimal:
        return self.amount_ttc - self.vat_amount


class ExpenseReceipt(Audited, Base):
    """The file proving an expense, stored under a random name (``portal.expenses.receipts``)."""

    __tablename__ = "expense_receipt"

    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("expense_line.id", ondelete="CASCADE"), unique=True)
    # Relative to the receipts folder, chosen by the server: never derived from what was uploaded.
    storage_name: Mapped[str] = mapped_column(String(80), unique=True)
    # Found from the content (magic bytes, decoding), not from the browser.
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # Shown to people (escaped), never used as a path.
    original_name: Mapped[str] = mapped_column(String(200), default="")

    line: Mapped[ExpenseLine] = relationship(back_populates="receipt")

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.line.note.dossier_id


class ExpenseTransition(Base):
    """One status change of a note: who, when, from what to what, and why (a refusal's comment)."""

    __tablename__ = "expense_transition"
    __table_args__ = (Index("ix_expense_transition_note", "note_id", "created_at"),)

    note_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("expense_note.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    from_status: Mapped[NoteStatus] = mapped_column(string_enum(NoteStatus, 16))
    to_status: Mapped[NoteStatus] = mapped_column(string_enum(NoteStatus, 16))
    comment: Mapped[str | None] = mapped_column(Text, default=None)

    actor: Mapped[User | None] = relationship(lazy="joined")
