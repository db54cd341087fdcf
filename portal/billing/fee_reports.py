"""Honoraires facturés: what the firm billed (HT, credit notes deducted) by month, client, service and mission,
beside the year before. Each table is one grouped statement over validated invoice lines, read through the
permission model (a confidential client's fees only for those who may see it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.auth.policy import Principal, restrict
from portal.billing.fee_models import ZERO, Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, Service
from portal.billing.invoices import READ

MONTHS = range(1, 13)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a report: its label, what was billed over the year and over the year before, HT."""

    key: str
    label: str
    current: Decimal
    previous: Decimal

    @property
    def change(self) -> Decimal | None:
        """The change against N-1, in percent (None when N-1 is nothing)."""
        if not self.previous:
            return None
        return ((self.current - self.previous) / abs(self.previous) * 100).quantize(Decimal("0.1"))


@dataclass(frozen=True, slots=True)
class FeeReport:
    year: int
    months: list[Row]
    clients: list[Row]
    services: list[Row]
    total: Row


def _signed(column: Any) -> Any:
    """A line's amount as billed: a credit note's lines count against the fees."""
    return case((Invoice.kind == InvoiceKind.CREDIT_NOTE, -column), else_=column)


class FeeReportService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _lines(self, principal: Principal, year: int, *columns: Any) -> Select[Any]:
        first, last = dt.date(year - 1, 1, 1), dt.date(year, 12, 31)
        statement = (
            select(*columns)
            .select_from(InvoiceLine)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .outerjoin(Service, Service.id == InvoiceLine.service_id)
            .where(Invoice.status == InvoiceStatus.VALIDATED, Invoice.issue_date.between(first, last))
        )
        return restrict(statement, principal, READ, Invoice)

    def _years(self, year: int) -> tuple[Any, Any]:
        amount = _signed(InvoiceLine.total_ht)
        issued = extract("year", Invoice.issue_date)
        return (
            func.coalesce(func.sum(case((issued == year, amount), else_=ZERO)), ZERO),
            func.coalesce(func.sum(case((issued == year - 1, amount), else_=ZERO)), ZERO),
        )

    async def report(self, principal: Principal, year: int, *, limit: int = 50) -> FeeReport:
        current, previous = self._years(year)
        month = extract("month", Invoice.issue_date)
        by_month = {
            int(row[0]): row
            for row in await self.session.execute(
                self._lines(principal, year, month, current, previous).group_by(month)
            )
        }
        months = [
            Row(str(number), str(number), Decimal(by_month[number][1]), Decimal(by_month[number][2]))
            if number in by_month
            else Row(str(number), str(number), ZERO, ZERO)
            for number in MONTHS
        ]
        clients = await self._grouped(principal, year, Invoice.client_id, Invoice.client_name, limit)
        service = func.coalesce(Service.label, InvoiceLine.label)
        services = await self._grouped(principal, year, service, service, limit)
        total = Row(
            "total", "", sum((row.current for row in months), ZERO), sum((row.previous for row in months), ZERO)
        )
        return FeeReport(year=year, months=months, clients=clients, services=services, total=total)

    async def _grouped(self, principal: Principal, year: int, key: Any, label: Any, limit: int) -> list[Row]:
        current, previous = self._years(year)
        statement = (
            self._lines(principal, year, key, func.max(label), current, previous)
            .group_by(key)
            .order_by(current.desc(), func.max(label))
            .limit(limit)
        )
        return [
            Row(str(row[0]), str(row[1]), Decimal(row[2]),
                Decimal(row[3]))
            for row in await self.session.execute(statement)
        ]  # fmt: skip
