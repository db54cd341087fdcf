"""The firm's fees: its catalogue, lettres de mission, invoices and credit notes, payments, reminders, and the
entries they post in the billing entity's own books.

Money is ``Numeric(12, 2)`` read as ``Decimal``; quantities ``Numeric(12, 3)``; rates are percents
(``Numeric(5, 2)``: ``20.00``). Every row belongs to a billing entity (``entity_id``, one of the firm's own
dossiers), and a client's rows to a client of its client base, so the permission model hides them with that
client's dossiers.

Numbering (``InvoiceSequence``): a number is taken at validation by one ``UPDATE … SET last_number =
last_number + n … RETURNING`` in the validating transaction; a draft has none, a rolled-back validation gives
its numbers back, and ``uq_billing_invoice_number`` refuses a duplicate whatever the code does.
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
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from portal.audit.mixins import Audited
from portal.billing.models import BillingClient
from portal.db.base import Base, string_enum
from portal.i18n import N_

Money = Numeric(12, 2, asdecimal=True)
Quantity = Numeric(12, 3, asdecimal=True)
Rate = Numeric(5, 2, asdecimal=True)
ZERO = Decimal("0.00")


class Unit(StrEnum):
    FLAT = "forfait"
    HOUR = "heure"
    PAYSLIP = "bulletin"
    ACT = "acte"

    @property
    def label(self) -> str:
        return _UNIT_LABELS[self]


_UNIT_LABELS = {Unit.FLAT: N_("Forfait"), Unit.HOUR: N_("Heure"), Unit.PAYSLIP: N_("Bulletin"), Unit.ACT: N_("Acte")}


class Rhythm(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    PER_ACT = "per_act"

    @property
    def label(self) -> str:
        return _RHYTHM_LABELS[self]

    @property
    def months(self) -> int | None:
        """Months between two billings; None for a mission billed per act."""
        return {Rhythm.MONTHLY: 1, Rhythm.QUARTERLY: 3, Rhythm.YEARLY: 12}.get(self)


_RHYTHM_LABELS = {
    Rhythm.MONTHLY: N_("Mensuelle"),
    Rhythm.QUARTERLY: N_("Trimestrielle"),
    Rhythm.YEARLY: N_("Annuelle"),
    Rhythm.PER_ACT: N_("À l'acte"),
}


class BillingSettings(Audited, Base):
    """What the firm writes once for its invoices and lettres de mission (Paramètres › Facturation)."""

    __tablename__ = "billing_settings"

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"), unique=True)
    share_capital: Mapped[str] = mapped_column(String(40), default="")
    trade_registry: Mapped[str] = mapped_column(String(120), default="")  # « RCS Lyon 512 345 678 »
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    iban: Mapped[str] = mapped_column(String(40), default="")
    bic: Mapped[str] = mapped_column(String(11), default="")
    payment_terms_days: Mapped[int] = mapped_column(SmallInteger, default=30)
    late_penalty_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("10.00"))
    vat_on_debits: Mapped[bool] = mapped_column(Boolean, default=False)
    general_terms: Mapped[str] = mapped_column(Text, default="")
    invoice_prefix: Mapped[str] = mapped_column(String(8), default="F")
    credit_note_prefix: Mapped[str] = mapped_column(String(8), default="AV")
    reminder_days: Mapped[str] = mapped_column(String(40), default="7,30")  # after the due date

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.entity_id


class Service(Audited, Base):
    """A service of the firm's catalogue."""

    __tablename__ = "billing_service"
    __table_args__ = (
        UniqueConstraint("entity_id", "label", name="uq_billing_service_label"),
        CheckConstraint("unit_price >= 0", name="billing_service_price"),
    )

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(120))
    unit: Mapped[Unit] = mapped_column(string_enum(Unit), default=Unit.FLAT)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    vat_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("20.00"))
    revenue_account: Mapped[str] = mapped_column(String(20), default="706000")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.entity_id


class EngagementStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    ENDED = "ended"

    @property
    def label(self) -> str:
        return _ENGAGEMENT_LABELS[self]


_ENGAGEMENT_LABELS = {
    EngagementStatus.DRAFT: N_("Brouillon"),
    EngagementStatus.SENT: N_("Envoyée"),
    EngagementStatus.ACCEPTED: N_("Acceptée"),
    EngagementStatus.ENDED: N_("Terminée"),
}


class Engagement(Audited, Base):
    """A lettre de mission: a client's missions and fees, sent, then accepted through a single-use link."""

    __tablename__ = "billing_engagement"
    __table_args__ = (
        UniqueConstraint("entity_id", "reference", name="uq_billing_engagement_reference"),
        Index("ix_billing_engagement_client", "client_id", "status"),
        CheckConstraint("revision_rate >= 0 AND revision_rate <= 100", name="billing_engagement_revision"),
    )
    __audit_exclude__ = frozenset({"token_hash"})

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_client.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(20))  # LM2026-0001
    status: Mapped[EngagementStatus] = mapped_column(string_enum(EngagementStatus), default=EngagementStatus.DRAFT)
    start_date: Mapped[dt.date] = mapped_column(Date)
    renewal_date: Mapped[dt.date] = mapped_column(Date)
    revision_rate: Mapped[Decimal] = mapped_column(Rate, default=ZERO)
    general_terms: Mapped[str] = mapped_column(Text, default="")  # the firm's terms when it was sent
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    accepted_by_name: Mapped[str | None] = mapped_column(String(200), default=None)
    accepted_from: Mapped[str | None] = mapped_column(String(64), default=None)  # the address it came from
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )

    client: Mapped[BillingClient] = relationship(lazy="joined")
    missions: Mapped[list[Mission]] = relationship(
        back_populates="engagement",
        lazy="selectin",
        order_by="Mission.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        """The client's dossier; a letter added with its ``client_id`` alone reads its client by that key."""
        client: BillingClient | None = self.client
        if client is None and self.client_id is not None and (session := object_session(self)) is not None:
            client = session.get(BillingClient, self.client_id)
        return client.origin_dossier_id if client is not None else None


class Mission(Audited, Base):
    """One mission of a lettre de mission: a service, its quantity and price, and how often it is billed."""

    __tablename__ = "billing_mission"
    __table_args__ = (CheckConstraint("unit_price >= 0 AND quantity > 0", name="billing_mission_amounts"),)

    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing_engagement.id", ondelete="CASCADE"), index=True
    )
    service_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing_service.id", ondelete="SET NULL"), default=None
    )
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    label: Mapped[str] = mapped_column(String(200))
    unit: Mapped[Unit] = mapped_column(string_enum(Unit), default=Unit.FLAT)
    quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("1.000"))
    unit_price: Mapped[Decimal] = mapped_column(Money)
    vat_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("20.00"))
    revenue_account: Mapped[str] = mapped_column(String(20), default="706000")
    rhythm: Mapped[Rhythm] = mapped_column(string_enum(Rhythm), default=Rhythm.MONTHLY)

    engagement: Mapped[Engagement] = relationship(back_populates="missions")

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        """A mission's events belong to its letter's client's dossier, hidden with it (a mission removed from its
        letter no longer names it: its letter is read back by its key, from the session's identity map)."""
        engagement: Engagement | None = self.engagement
        if engagement is None and self.engagement_id is not None and (session := object_session(self)) is not None:
            engagement = session.get(Engagement, self.engagement_id)
        return engagement.audit_dossier_id if engagement is not None else None


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def label(self) -> str:
        return N_("Facture") if self is InvoiceKind.INVOICE else N_("Avoir")


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    VALIDATED = "validated"

    @property
    def label(self) -> str:
        return N_("Brouillon") if self is InvoiceStatus.DRAFT else N_("Validée")


class EInvoiceStatus(StrEnum):
    """The life cycle a plateforme agréée reports (the portal records it; a connector fills it)."""

    NOT_SENT = "not_sent"
    DEPOSITED = "deposited"
    ISSUED = "issued"
    RECEIVED = "received"
    REJECTED = "rejected"
    REFUSED = "refused"
    APPROVED = "approved"
    DISPUTED = "disputed"
    PAYMENT_SENT = "payment_sent"
    CASHED = "cashed"

    @property
    def label(self) -> str:
        return _EINVOICE_LABELS[self]


_EINVOICE_LABELS = {
    EInvoiceStatus.NOT_SENT: N_("Non déposée"),
    EInvoiceStatus.DEPOSITED: N_("Déposée"),
    EInvoiceStatus.ISSUED: N_("Émise"),
    EInvoiceStatus.RECEIVED: N_("Reçue"),
    EInvoiceStatus.REJECTED: N_("Rejetée"),
    EInvoiceStatus.REFUSED: N_("Refusée"),
    EInvoiceStatus.APPROVED: N_("Approuvée"),
    EInvoiceStatus.DISPUTED: N_("En litige"),
    EInvoiceStatus.PAYMENT_SENT: N_("Paiement transmis"),
    EInvoiceStatus.CASHED: N_("Encaissée"),
}


class BillingRunStatus(StrEnum):
    RUNNING = "running"
    READY = "ready"  # drafts to review
    VALIDATED = "validated"

    @property
    def label(self) -> str:
        return _RUN_LABELS[self]


_RUN_LABELS = {
    BillingRunStatus.RUNNING: N_("En cours"),
    BillingRunStatus.READY: N_("Brouillons à revoir"),
    BillingRunStatus.VALIDATED: N_("Validée"),
}


class BillingRun(Audited, Base):
    """A recurring billing run: one draft per client for what its missions bill over ``[start, end]``."""

    __tablename__ = "billing_run"
    __table_args__ = (UniqueConstraint("entity_id", "period_start", "period_end", name="uq_billing_run_period"),)

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    issue_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[BillingRunStatus] = mapped_column(string_enum(BillingRunStatus), default=BillingRunStatus.RUNNING)
    drafts: Mapped[int] = mapped_column(Integer, default=0)
    job_run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("job_run.id", ondelete="SET NULL"), default=None)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )


class Invoice(Base):
    """An invoice or a credit note. A draft has no number and may be edited or removed; a validated one is
    never deleted (a credit note cancels it). Its client's identity is copied at validation."""

    __tablename__ = "billing_invoice"
    __table_args__ = (
        UniqueConstraint("entity_id", "number", name="uq_billing_invoice_number"),
        UniqueConstraint("entity_id", "series", "sequence", name="uq_billing_invoice_sequence"),
        UniqueConstraint("run_id", "client_id", name="uq_billing_invoice_run_client"),
        Index("ix_billing_invoice_entity_status", "entity_id", "status", "issue_date"),
        Index("ix_billing_invoice_client", "client_id", "issue_date"),
        CheckConstraint(
            "(status = 'draft' AND number IS NULL) OR (status = 'validated' AND number IS NOT NULL)",
            name="billing_invoice_numbered",
        ),
    )

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="RESTRICT"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_client.id", ondelete="RESTRICT"))
    kind: Mapped[InvoiceKind] = mapped_column(string_enum(InvoiceKind), default=InvoiceKind.INVOICE)
    status: Mapped[InvoiceStatus] = mapped_column(string_enum(InvoiceStatus), default=InvoiceStatus.DRAFT)
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("billing_run.id", ondelete="SET NULL"), default=None)
    credited_invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing_invoice.id", ondelete="RESTRICT"), default=None, index=True
    )
    series: Mapped[str | None] = mapped_column(String(16), default=None)  # F2026
    sequence: Mapped[int | None] = mapped_column(Integer, default=None)
    number: Mapped[str | None] = mapped_column(String(32), default=None)  # F2026-000123
    issue_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    period_start: Mapped[dt.date | None] = mapped_column(Date, default=None)
    period_end: Mapped[dt.date | None] = mapped_column(Date, default=None)
    purchase_order: Mapped[str] = mapped_column(String(60), default="")
    note: Mapped[str] = mapped_column(String(1000), default="")
    # The client as invoiced (copied when validated: the invoice keeps them if the client changes).
    client_name: Mapped[str] = mapped_column(String(200), default="")
    client_siren: Mapped[str | None] = mapped_column(String(9), default=None)
    client_vat_number: Mapped[str | None] = mapped_column(String(20), default=None)
    client_address: Mapped[str] = mapped_column(String(300), default="")
    client_postal_code: Mapped[str] = mapped_column(String(10), default="")
    client_city: Mapped[str] = mapped_column(String(120), default="")
    client_email: Mapped[str] = mapped_column(String(254), default="")
    total_ht: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    total_vat: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    total_ttc: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    # What payments and credit notes settled; the rest is due.
    settled: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    validated_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    validated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    paid_at: Mapped[dt.date | None] = mapped_column(Date, default=None)
    file_name: Mapped[str | None] = mapped_column(String(80), default=None)  # the Factur-X PDF under var/invoices
    einvoice_status: Mapped[EInvoiceStatus] = mapped_column(
        string_enum(EInvoiceStatus), default=EInvoiceStatus.NOT_SENT
    )

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice",
        lazy="selectin",
        order_by="InvoiceLine.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def balance_due(self) -> Decimal:
        return self.total_ttc - self.settled


class InvoiceLine(Base):
    """A line of an invoice; a line billed from a mission names the mission and the period it bills, once."""

    __tablename__ = "billing_invoice_line"
    __table_args__ = (UniqueConstraint("mission_id", "period_start", name="uq_billing_invoice_line_mission_period"),)

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_invoice.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    mission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing_mission.id", ondelete="SET NULL"), default=None
    )
    service_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing_service.id", ondelete="SET NULL"), default=None
    )
    period_start: Mapped[dt.date | None] = mapped_column(Date, default=None)
    label: Mapped[str] = mapped_column(String(300))
    unit: Mapped[Unit] = mapped_column(string_enum(Unit), default=Unit.FLAT)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    vat_rate: Mapped[Decimal] = mapped_column(Rate)
    revenue_account: Mapped[str] = mapped_column(String(20), default="706000")
    total_ht: Mapped[Decimal] = mapped_column(Money)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class InvoiceSequence(Base):
    """The last number given in a series (``F2026``), taken and raised in the validating transaction."""

    __tablename__ = "billing_invoice_sequence"
    __table_args__ = (UniqueConstraint("entity_id", "series", name="uq_billing_invoice_sequence_series"),)

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    series: Mapped[str] = mapped_column(String(16))
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class EInvoiceEvent(Base):
    """A status a plateforme agréée reported for an invoice (or the portal recorded on deposit)."""

    __tablename__ = "billing_einvoice_event"

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_invoice.id", ondelete="CASCADE"), index=True)
    status: Mapped[EInvoiceStatus] = mapped_column(string_enum(EInvoiceStatus))
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    platform_reference: Mapped[str] = mapped_column(String(120), default="")
    message: Mapped[str] = mapped_column(String(1000), default="")


class PaymentMethod(StrEnum):
    TRANSFER = "virement"
    DIRECT_DEBIT = "prelevement"
    CHEQUE = "cheque"
    CARD = "carte"
    CASH = "especes"

    @property
    def label(self) -> str:
        return _METHOD_LABELS[self]


_METHOD_LABELS = {
    PaymentMethod.TRANSFER: N_("Virement"),
    PaymentMethod.DIRECT_DEBIT: N_("Prélèvement"),
    PaymentMethod.CHEQUE: N_("Chèque"),
    PaymentMethod.CARD: N_("Carte"),
    PaymentMethod.CASH: N_("Espèces"),
}


class Payment(Audited, Base):
    """Money received from a client, spread over its invoices; what is left is the client's credit."""

    __tablename__ = "billing_payment"
    __table_args__ = (
        CheckConstraint("amount > 0", name="billing_payment_amount"),
        Index("ix_billing_payment_client", "client_id", "received_on"),
    )

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="RESTRICT"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_client.id", ondelete="RESTRICT"))
    received_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    unallocated: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    method: Mapped[PaymentMethod] = mapped_column(string_enum(PaymentMethod), default=PaymentMethod.TRANSFER)
    reference: Mapped[str] = mapped_column(String(140), default="")
    bank_line_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing_bank_line.id", ondelete="SET NULL"), default=None, unique=True
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )

    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        """The client's dossier: a payment's events are hidden with it (its reference may name the client)."""
        session = object_session(self)
        client = session.get(BillingClient, self.client_id) if session is not None and self.client_id else None
        return client.origin_dossier_id if client is not None else None


class PaymentAllocation(Base):
    """The part of a payment (or of a credit note: ``credit_note_id``) settling one invoice."""

    __tablename__ = "billing_payment_allocation"
    __table_args__ = (
        CheckConstraint("amount > 0", name="billing_allocation_amount"),
        CheckConstraint(
            "(payment_id IS NOT NULL AND credit_note_id IS NULL)"
            " OR (payment_id IS NULL AND credit_note_id IS NOT NULL)",
            name="billing_allocation_source",
        ),
    )

    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing_payment.id", ondelete="CASCADE"), default=None, index=True
    )
    credit_note_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing_invoice.id", ondelete="RESTRICT"), default=None, index=True
    )
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_invoice.id", ondelete="RESTRICT"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)

    payment: Mapped[Payment | None] = relationship(back_populates="allocations")


class BankLineStatus(StrEnum):
    TO_MATCH = "to_match"
    MATCHED = "matched"
    IGNORED = "ignored"

    @property
    def label(self) -> str:
        return {BankLineStatus.TO_MATCH: N_("À rapprocher"), BankLineStatus.MATCHED: N_("Rapprochée")}.get(
            self, N_("Ignorée")
        )


class BankLine(Base):
    """A credit line of an imported bank statement, waiting for a person to confirm its match."""

    __tablename__ = "billing_bank_line"
    __table_args__ = (
        UniqueConstraint("entity_id", "fingerprint", name="uq_billing_bank_line_fingerprint"),
        Index("ix_billing_bank_line_status", "entity_id", "status", "booked_on"),
    )

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    booked_on: Mapped[dt.date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(300))
    amount: Mapped[Decimal] = mapped_column(Money)
    reference: Mapped[str] = mapped_column(String(140), default="")
    # The same line imported twice (a statement overlapping the last) is one line.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[BankLineStatus] = mapped_column(string_enum(BankLineStatus), default=BankLineStatus.TO_MATCH)
    suggested_invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing_invoice.id", ondelete="SET NULL"), default=None
    )


class Reminder(Base):
    """A reminder sent for an invoice at one of the firm's delays (once per invoice and delay)."""

    __tablename__ = "billing_reminder"
    __table_args__ = (UniqueConstraint("invoice_id", "delay_days", name="uq_billing_reminder_invoice_delay"),)

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_invoice.id", ondelete="CASCADE"))
    delay_days: Mapped[int] = mapped_column(SmallInteger)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class PostingKind(StrEnum):
    INVOICE = "invoice"
    PAYMENT = "payment"


class FeeEntry(Base):
    """An entry the portal posted in the billing entity's books for an invoice, credit note or payment (once
    each: ``uq_billing_entry_source``). Amounts in cents, like the ledger's; debit = credit."""

    __tablename__ = "billing_entry"
    __table_args__ = (
        UniqueConstraint("source_kind", "source_id", name="uq_billing_entry_source"),
        Index("ix_billing_entry_entity_date", "entity_id", "journal_code", "entry_date"),
    )

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    source_kind: Mapped[PostingKind] = mapped_column(string_enum(PostingKind))
    source_id: Mapped[uuid.UUID] = mapped_column()
    journal_code: Mapped[str] = mapped_column(String(8))
    entry_date: Mapped[dt.date] = mapped_column(Date)
    piece_ref: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(300))
    total: Mapped[int] = mapped_column(Integer)  # cents

    lines: Mapped[list[FeeEntryLine]] = relationship(
        lazy="selectin", order_by="FeeEntryLine.line_no", cascade="all, delete-orphan", passive_deletes=True
    )


class FeeEntryLine(Base):
    __tablename__ = "billing_entry_line"
    __table_args__ = (UniqueConstraint("entry_id", "line_no", name="uq_billing_entry_line_no"),)

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_entry.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(SmallInteger)
    account: Mapped[str] = mapped_column(String(20))
    aux_account: Mapped[str | None] = mapped_column(String(20), default=None)
    aux_label: Mapped[str | None] = mapped_column(String(200), default=None)
    label: Mapped[str] = mapped_column(String(300))
    debit: Mapped[int] = mapped_column(Integer, default=0)  # cents
    credit: Mapped[int] = mapped_column(Integer, default=0)
