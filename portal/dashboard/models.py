"""What the firm plans for a dossier's figures: objectives per KPI and a monthly budget (prévisionnel).

Both belong to a fiscal year by its closing date, not to an imported version of it: a re-import
keeps them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.audit.mixins import Audited
from portal.db.base import Base


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
