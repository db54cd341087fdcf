"""What the firm plans for a dossier's figures: objectives per KPI and a monthly budget (prévisionnel);
and the PDF reports printed from them (``Report``).

Both belong to a fiscal year by its closing date, not to an imported version of it: a re-import
keeps them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.audit.mixins import Audited
from portal.db.base import Base, JsonB, string_enum
from portal.i18n import N_


class Objective(Audited, Base):
    """A target for one figure (``portal.ledger.figures`` key) of a fiscal year: euros, % or days."""

    __tablename__ = "dashboard_objective"
    __table_args__ = (UniqueConstraint("dossier_id", "end_date", "key", name="uq_dashboard_objective"),)

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    end_date: Mapped[dt.date] = mapped_column(Date)
    key: Mapped[str] = mapped_column(String(40))
    target: Mapped[Decimal] = mapped_column(Numeric(18, 2, asdecimal=True))

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.dossier_id


class BudgetLine(Audited, Base):
    """The budgeted amount of one line (``figures.BUDGET_KEYS``) for one month of a fiscal year, in cents."""

    __tablename__ = "dashboard_budget_line"
    __table_args__ = (UniqueConstraint("dossier_id", "end_date", "key", "month", name="uq_dashboard_budget_line"),)

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    end_date: Mapped[dt.date] = mapped_column(Date)
    key: Mapped[str] = mapped_column(String(40))
    month: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.dossier_id


# --- PDF reports (portal/dashboard/reports.py, tasks.py) ------------------------------------------

REPORT_TITLE_MAX = 200
REPORT_COMMENT_MAX = 4000


class ReportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return _REPORT_LABELS[self]

    @property
    def is_final(self) -> bool:
        return self in {ReportStatus.READY, ReportStatus.FAILED}


_REPORT_LABELS = {
    ReportStatus.QUEUED: N_("En attente"),
    ReportStatus.RUNNING: N_("En cours"),
    ReportStatus.READY: N_("Prêt"),
    ReportStatus.FAILED: N_("Échec"),
}


class Report(Audited, Base):
    """A PDF report of a dossier's fiscal year: asked for on its Rapports page, printed by a worker.

    The file waits under ``var/reports`` under a random name (``portal.dashboard.reports.ReportFiles``),
    written atomically, served only through the download route. ``recipient_ids`` are the people chosen
    to receive it by email; the sending job checks each again when it sends.
    """

    __tablename__ = "dashboard_report"
    __audit_exclude__ = frozenset({"step", "progress_done", "progress_total", "emailed_ids"})
    __table_args__ = (Index("ix_dashboard_report_dossier_created", "dossier_id", "created_at"),)

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    # The fiscal year: its closing date, and the version read when the report was asked for.
    end_date: Mapped[dt.date] = mapped_column(Date)
    fiscal_year_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ledger_fiscal_year.id", ondelete="SET NULL"), default=None
    )
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(REPORT_TITLE_MAX))
    comment: Mapped[str] = mapped_column(String(REPORT_COMMENT_MAX), default="")
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    recipient_ids: Mapped[list[str]] = mapped_column(JsonB, default=list)
    emailed_ids: Mapped[list[str]] = mapped_column(JsonB, default=list)
    status: Mapped[ReportStatus] = mapped_column(string_enum(ReportStatus), default=ReportStatus.QUEUED)
    step: Mapped[str | None] = mapped_column(String(200), default=None)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer, default=None)
    storage_name: Mapped[str | None] = mapped_column(String(120), default=None)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(String(1000), default=None)
    job_run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("job_run.id", ondelete="SET NULL"), default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    @property
    def audit_dossier_id(self) -> uuid.UUID | None:
        return self.dossier_id

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, round(100 * self.progress_done / self.progress_total))
