"""What the portal keeps of a dossier's POS and e-commerce sources.

- ``CommerceSetup``: one per connection (``integration_connection``, whose credentials are
  encrypted there): which account at the source it reads, what the source said it has
  (registers, payment methods, VAT rates…), the accounting mapping, and when to sync.
- ``CommerceEntry`` and ``CommerceEntryLine``: the entries posted from the source's records.
  An entry is identified by the record it comes from: (dossier, source account, kind,
  record id) is unique in the database, whatever connection, run or retry wrote it. The
  source account (``source_key``: the source and its account id there) does not change
  when the dossier reconnects, or connects the same account anew, so nothing is ever
  posted twice.
- ``CommerceDay``: how far each day of a source account went. A closed day at the source
  is final: posted once, never fetched again. An open day (today) is posted provisionally
  and replaced at each sync until the source closes it.
- ``CommerceCustomer``: the customers' auxiliary accounts (411), created when a record
  first names a customer.
- ``CommerceSummaryItem``: in *Z de caisse* mode (``CommerceSetup.summarise_days``), which
  record each day's summary entry counts: (dossier, source account, kind, record id) is its
  primary key, so a ticket is counted in one summary at most, and never also posted alone.

Amounts are integer cents; dates are dates.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from advanced_alchemy.base import DefaultBase
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from portal.audit.mixins import Audited
from portal.db.base import Base, JsonB, string_enum
from portal.i18n import N_


class SyncFrequency(StrEnum):
    DAILY = "daily"  # every morning at 06:00, the days not yet final up to yesterday
    MONTHLY = "monthly"  # on the 1st at 06:00, the days not yet final up to the end of last month

    @property
    def label(self) -> str:
        return _FREQUENCY_LABELS[self]


_FREQUENCY_LABELS = {
    SyncFrequency.DAILY: N_("Tous les jours à 6 h (données de la veille)"),
    SyncFrequency.MONTHLY: N_("Tous les mois, le 1er à 6 h (mois précédent)"),
}


class DayState(StrEnum):
    OPEN = "open"  # posted provisionally: the source may still change it
    CLOSED = "closed"  # final
    BLOCKED = "blocked"  # nothing posted: the mapping lacks what the day needs

    @property
    def label(self) -> str:
        return _DAY_LABELS[self]


_DAY_LABELS = {
    DayState.OPEN: N_("Journée ouverte (provisoire)"),
    DayState.CLOSED: N_("Clôturée"),
    DayState.BLOCKED: N_("Mapping à compléter"),
}


class CommerceSetup(Audited, Base):
    """A POS or e-commerce connection's account at the source, mapping and schedule."""

    __tablename__ = "commerce_setup"
    __audit_exclude__ = frozenset({"reference", "reference_checked_at", "last_synced_at", "last_error"})
    __table_args__ = (Index("ix_commerce_setup_frequency", "sync_frequency"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integration_connection.id", ondelete="CASCADE"), unique=True
    )
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(24))
    # The account at the source (a shop, a restaurant), learnt from the source once connected.
    consumer_id: Mapped[str | None] = mapped_column(String(120), default=None)
    consumer_name: Mapped[str | None] = mapped_column(String(200), default=None)
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JsonB, default=None)
    reference: Mapped[dict[str, Any] | None] = mapped_column(JsonB, default=None)
    reference_checked_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    sync_start: Mapped[dt.date] = mapped_column(Date)
    sync_frequency: Mapped[SyncFrequency] = mapped_column(string_enum(SyncFrequency), default=SyncFrequency.DAILY)
    last_synced_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    # Z de caisse: each register's (or the shop's) day posted as one summarised entry instead of one
    # entry per ticket. Read when a day is posted: days already final keep the way they were posted.
    summarise_days: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.dossier_id

    @property
    def source_key(self) -> str | None:
        """The account at the source, as every posted record names it (None until known)."""
        return source_key(self.source, self.consumer_id) if self.consumer_id else None


def source_key(source: str, consumer_id: str) -> str:
    return f"{source}:{consumer_id}"


class CommerceEntry(DefaultBase):
    """An entry posted from one record of a source account; unique per (dossier, account, kind, record)."""

    __tablename__ = "commerce_entry"
    __table_args__ = (
        UniqueConstraint("dossier_id", "source_key", "kind", "record_id", name="uq_commerce_entry_record"),
        Index("ix_commerce_entry_day", "dossier_id", "source_key", "business_date"),
        Index("ix_commerce_entry_date", "dossier_id", "entry_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True)
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    source_key: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(120))
    business_date: Mapped[dt.date] = mapped_column(Date)
    entry_date: Mapped[dt.date] = mapped_column(Date)
    journal_code: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(300))
    piece_ref: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    total: Mapped[int] = mapped_column(BigInteger)  # cents, debit = credit
    final: Mapped[bool] = mapped_column(Boolean, default=True)
    # The run that posted it (no foreign key: runs are purged, entries stay).
    run_id: Mapped[uuid.UUID | None] = mapped_column(GUID, default=None)


class CommerceEntryLine(DefaultBase):
    __tablename__ = "commerce_entry_line"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("commerce_entry.id", ondelete="CASCADE"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(20))
    aux_account: Mapped[str | None] = mapped_column(String(20), default=None)
    label: Mapped[str] = mapped_column(String(300))
    debit: Mapped[int] = mapped_column(BigInteger)  # cents
    credit: Mapped[int] = mapped_column(BigInteger)  # cents


class CommerceDay(DefaultBase):
    """One day of a source account: open (provisional), closed (final) or blocked by the mapping."""

    __tablename__ = "commerce_day"

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    business_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    state: Mapped[DayState] = mapped_column(string_enum(DayState))
    records: Mapped[int] = mapped_column(Integer, default=0)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(String(1000), default=None)
    synced_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))

    @property
    def final(self) -> bool:
        return self.state is DayState.CLOSED


class CommerceCustomer(DefaultBase):
    """A customer's auxiliary account (411), created the first time one of its records is posted."""

    __tablename__ = "commerce_customer"

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    aux_account: Mapped[str] = mapped_column(String(20), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))


class CommerceSummaryItem(DefaultBase):
    """A record counted in a day's summary entry (Z de caisse): at most once, whatever the run."""

    __tablename__ = "commerce_summary_item"

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("commerce_entry.id", ondelete="CASCADE"), index=True)
