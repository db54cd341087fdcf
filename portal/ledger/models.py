"""A dossier's ledger, as imported from FEC files: fiscal years and, per fiscal year, journals,
accounts, entries and lines.

Everything below a fiscal year belongs to that version of it. An import writes a new
version in the ``staging`` state, batch after batch, invisible to every reader; once the
whole file is in and valid, one short transaction retires the version it replaces and
activates the new one. So a fiscal year is never half-imported and never doubled: at most
one ``active`` version per (dossier, closing date) exists, and a unique partial index, not
only the code, says so. Retired and abandoned versions are deleted in the background.

Lines keep every FEC field as read, so an exported file re-imports identically. Amounts
are integer cents; dates are dates.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any

from advanced_alchemy.base import DefaultBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal.audit.mixins import Audited
from portal.db.base import Base, JsonB, string_enum
from portal.i18n import N_

# Codes (journals, accounts, entry numbers) compare byte by byte on PostgreSQL: their indexes are
# built and searched without the locale's collation rules, several times faster for millions of lines.
# No length limit: the FEC sets none, and a long value must never fail an import at the database.
Code = String().with_variant(String(collation="C"), "postgresql")
Label = String()


class VersionState(StrEnum):
    STAGING = "staging"
    ACTIVE = "active"
    RETIRED = "retired"


class LedgerSource(StrEnum):
    """Where an import's file came from."""

    UPLOAD = "upload"
    PENNYLANE = "pennylane"
    COMMAND = "command"

    @property
    def label(self) -> str:
        return _SOURCE_LABELS[self]


_SOURCE_LABELS = {
    LedgerSource.UPLOAD: N_("Fichier FEC importé"),
    LedgerSource.PENNYLANE: N_("Pennylane"),
    LedgerSource.COMMAND: N_("Fichier FEC chargé par le support du cabinet"),
}


class ImportStatus(StrEnum):
    # The file does not look like the dossier's (another SIREN in its name, another closing date): it waits,
    # stored, until the person imports it anyway (then QUEUED) or cancels (then CANCELLED, the file removed).
    TO_CONFIRM = "to_confirm"
    CANCELLED = "cancelled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    REFUSED = "refused"  # the file has errors: nothing imported, the report says why
    FAILED = "failed"  # the work itself failed (after its retries)

    @property
    def label(self) -> str:
        return _IMPORT_LABELS[self]

    @property
    def is_final(self) -> bool:
        return self in {ImportStatus.SUCCEEDED, ImportStatus.REFUSED, ImportStatus.FAILED, ImportStatus.CANCELLED}

    @property
    def in_progress(self) -> bool:
        """Queued or running: a worker has it (what the pages follow live)."""
        return self in {ImportStatus.QUEUED, ImportStatus.RUNNING}


_IMPORT_LABELS = {
    ImportStatus.TO_CONFIRM: N_("À confirmer"),
    ImportStatus.CANCELLED: N_("Annulé"),
    ImportStatus.QUEUED: N_("En attente"),
    ImportStatus.RUNNING: N_("En cours"),
    ImportStatus.SUCCEEDED: N_("Importé"),
    ImportStatus.REFUSED: N_("Refusé"),
    ImportStatus.FAILED: N_("Échec"),
}


class FiscalYear(Base):
    """One version of a dossier's fiscal year (exercice), with its totals.

    Not audited row by row (staging versions come and go); the import records one audit
    event when a version becomes the active one.
    """

    __tablename__ = "ledger_fiscal_year"
    __table_args__ = (
        Index(
            "uq_ledger_fiscal_year_active",
            "dossier_id",
            "end_date",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        Index("ix_ledger_fiscal_year_dossier_state", "dossier_id", "state", "end_date"),
    )

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[VersionState] = mapped_column(string_enum(VersionState), default=VersionState.STAGING)
    source: Mapped[LedgerSource] = mapped_column(string_enum(LedgerSource))
    import_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ledger_import.id", ondelete="SET NULL"), default=None
    )
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    journal_count: Mapped[int] = mapped_column(Integer, default=0)
    account_count: Mapped[int] = mapped_column(Integer, default=0)
    debit_total: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_total: Mapped[int] = mapped_column(BigInteger, default=0)
    # Cash-basis (BNC/BA) files carry four more columns; the export writes them back.
    cash_basis: Mapped[str | None] = mapped_column(String(8), default=None)
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.dossier_id

    @property
    def label(self) -> str:
        return f"{self.start_date:%d/%m/%Y} – {self.end_date:%d/%m/%Y}"


class Journal(DefaultBase):
    """A journal of a fiscal year version (code and label as the FEC names them)."""

    __tablename__ = "ledger_journal"

    fiscal_year_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_fiscal_year.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(Code, primary_key=True)
    label: Mapped[str] = mapped_column(Label, default="")
    entry_count: Mapped[int] = mapped_column(Integer, default=0)


class Account(DefaultBase):
    """An account of a fiscal year version, with its totals (the balance générale)."""

    __tablename__ = "ledger_account"

    fiscal_year_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_fiscal_year.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[str] = mapped_column(Code, primary_key=True)
    label: Mapped[str] = mapped_column(Label, default="")
    debit_total: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_total: Mapped[int] = mapped_column(BigInteger, default=0)
    line_count: Mapped[int] = mapped_column(Integer, default=0)


class Entry(DefaultBase):
    """An entry (écriture): the lines sharing a journal and an EcritureNum, derived from them."""

    __tablename__ = "ledger_entry"
    __table_args__ = (Index("ix_ledger_entry_date", "fiscal_year_id", "entry_date", "first_line_no"),)

    fiscal_year_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_fiscal_year.id", ondelete="CASCADE"), primary_key=True
    )
    journal_code: Mapped[str] = mapped_column(Code, primary_key=True)
    number: Mapped[str] = mapped_column(Code, primary_key=True)
    entry_date: Mapped[dt.date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(Label, default="")
    piece_ref: Mapped[str | None] = mapped_column(Label, default=None)
    first_line_no: Mapped[int] = mapped_column(Integer)
    line_count: Mapped[int] = mapped_column(Integer)
    debit_total: Mapped[int] = mapped_column(BigInteger)
    credit_total: Mapped[int] = mapped_column(BigInteger)


class Line(DefaultBase):
    """One FEC line, every field kept; ``line_no`` is its line in the imported file."""

    __tablename__ = "ledger_line"
    __table_args__ = (
        Index("ix_ledger_line_entry", "fiscal_year_id", "journal_code", "entry_number"),
        Index("ix_ledger_line_account", "fiscal_year_id", "account_number"),
    )

    fiscal_year_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_fiscal_year.id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    journal_code: Mapped[str] = mapped_column(Code)
    journal_label: Mapped[str | None] = mapped_column(Label)
    entry_number: Mapped[str] = mapped_column(Code)
    entry_date: Mapped[dt.date] = mapped_column(Date)
    account_number: Mapped[str] = mapped_column(Code)
    account_label: Mapped[str | None] = mapped_column(Label)
    aux_account_number: Mapped[str | None] = mapped_column(Code)
    aux_account_label: Mapped[str | None] = mapped_column(Label)
    piece_ref: Mapped[str | None] = mapped_column(Label)
    piece_date: Mapped[dt.date | None] = mapped_column(Date)
    label: Mapped[str | None] = mapped_column(Label)
    debit: Mapped[int] = mapped_column(BigInteger)
    credit: Mapped[int] = mapped_column(BigInteger)
    lettering: Mapped[str | None] = mapped_column(Code)
    lettering_date: Mapped[dt.date | None] = mapped_column(Date)
    validation_date: Mapped[dt.date | None] = mapped_column(Date)
    currency_amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 6, asdecimal=True))
    currency: Mapped[str | None] = mapped_column(Code)
    settlement_date: Mapped[dt.date | None] = mapped_column(Date)
    settlement_mode: Mapped[str | None] = mapped_column(Code)
    nature: Mapped[str | None] = mapped_column(Label)
    client_id: Mapped[str | None] = mapped_column(Label)


class Balance(DefaultBase):
    """The lines of one account, month and journal of a fiscal-year version, summed: what every figure reads.

    Written by the import in one set-based pass over the lines (the accounts' totals are then summed from
    these rows), so a version and its balances come and go together. The journal tells the à-nouveaux
    lines apart (``portal.ledger.figures.is_opening``); ``flags`` is set on VAT lines only
    (``portal.ledger.figures``: 1 when their entry also posts to 70…, 2 to 60/61/62…).
    """

    __tablename__ = "ledger_balance"

    fiscal_year_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_fiscal_year.id", ondelete="CASCADE"), primary_key=True
    )
    account_number: Mapped[str] = mapped_column(Code, primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    journal_code: Mapped[str] = mapped_column(Code, primary_key=True)
    flags: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    account_label: Mapped[str] = mapped_column(Label, default="")
    debit: Mapped[int] = mapped_column(BigInteger)
    credit: Mapped[int] = mapped_column(BigInteger)
    line_count: Mapped[int] = mapped_column(Integer)


class YearFigures(DefaultBase):
    """The figures of an active fiscal year, kept for lists over many dossiers (Portefeuille, Accueil).

    Recomputed for every active year of the dossier in the transaction that activates a version (a
    year's DSO reads the previous year's closing); ``figures`` is ``Figures.to_json()``, ``detail`` the
    monthly series and the intermediate amounts the pages show.
    """

    __tablename__ = "ledger_year_figures"
    __table_args__ = (Index("ix_ledger_year_figures_dossier", "dossier_id", "end_date"),)

    fiscal_year_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_fiscal_year.id", ondelete="CASCADE"), primary_key=True
    )
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    chiffre_affaires: Mapped[int] = mapped_column(BigInteger)
    marge_brute: Mapped[int] = mapped_column(BigInteger)
    resultat_exploitation: Mapped[int] = mapped_column(BigInteger)
    resultat_net: Mapped[int] = mapped_column(BigInteger)
    tresorerie_nette: Mapped[int] = mapped_column(BigInteger)
    taux_marge_brute: Mapped[Decimal | None] = mapped_column(Numeric(9, 1, asdecimal=True))
    taux_marge_exploitation: Mapped[Decimal | None] = mapped_column(Numeric(9, 1, asdecimal=True))
    dso_jours: Mapped[Decimal | None] = mapped_column(Numeric(9, 1, asdecimal=True))
    dpo_jours: Mapped[Decimal | None] = mapped_column(Numeric(9, 1, asdecimal=True))
    figures: Mapped[dict[str, Any]] = mapped_column(JsonB)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonB)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))


class LedgerImport(Audited, Base):
    """A FEC file to import into a dossier (uploaded, downloaded from Pennylane, or given on the command line).

    The file waits under ``var/imports`` under a random name; the report of its analysis
    (errors and warnings with line numbers, counts, totals) is kept with the import.
    """

    __tablename__ = "ledger_import"
    __audit_exclude__ = frozenset({"report", "progress_done", "progress_total", "step"})
    __table_args__ = (Index("ix_ledger_import_dossier_created", "dossier_id", "created_at"),)

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    source: Mapped[LedgerSource] = mapped_column(string_enum(LedgerSource))
    status: Mapped[ImportStatus] = mapped_column(string_enum(ImportStatus), default=ImportStatus.QUEUED)
    filename: Mapped[str] = mapped_column(String(255))
    storage_name: Mapped[str | None] = mapped_column(String(120), default=None)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # The fiscal year asked for (Pennylane, or dates given with an upload); else read from the file.
    period_start: Mapped[dt.date | None] = mapped_column(Date, default=None)
    period_end: Mapped[dt.date | None] = mapped_column(Date, default=None)
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("integration_connection.id", ondelete="SET NULL"), default=None
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    job_run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("job_run.id", ondelete="SET NULL"), default=None)
    report: Mapped[dict[str, Any] | None] = mapped_column(JsonB, default=None)
    error: Mapped[str | None] = mapped_column(String(1000), default=None)
    replaced: Mapped[bool] = mapped_column(default=False)
    step: Mapped[str | None] = mapped_column(String(200), default=None)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer, default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.dossier_id

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, round(100 * self.progress_done / self.progress_total))
