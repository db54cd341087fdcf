"""Balance âgée: what each client owes at a reference date, by how long it is past due.

One grouped statement, read through ``restrict(…, Invoice)``: each validated invoice issued on or before the
reference date counts its balance due (a credit note not yet applied counts against, as what is left of it) in
one column by its due date — *non échu* (due on or after the reference date), *0–30* (1 to 30 days past due),
*31–60*, *61–90*, *> 90* — and the client's total. The day boundaries are dates computed once, so the database
compares dates only (the same on SQLite and PostgreSQL). The total row sums the same statement, every client.

Balances are today's: a payment recorded after the reference date already reduces them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing.fee_models import Invoice, InvoiceKind, InvoiceStatus
from portal.billing.models import BillingClient
from portal.billing.payments import TOLERANCE
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.i18n import N_

BUCKETS = ("not_due", "days_30", "days_60", "days_90", "older")
BUCKET_LABELS = {
    "not_due": N_("Non échu"),
    "days_30": N_("0–30 jours"),
    "days_60": N_("31–60 jours"),
    "days_90": N_("61–90 jours"),
    "older": N_("> 90 jours"),
}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class AgedRow:
    """A client's balance by age (or the total row: ``client_id`` None)."""

    client_id: uuid.UUID | None
    name: str
    not_due: Decimal
    days_30: Decimal
    days_60: Decimal
    days_90: Decimal
    older: Decimal
    total: Decimal

    @classmethod
    def of(cls, row: Any) -> AgedRow:
        values = {key: Decimal(row[key] or 0).quantize(CENT) for key in (*BUCKETS, "total")}
        return cls(client_id=row.get("client_id"), name=row.get("name") or "", **values)


def statement(principal: Principal, entity_id: uuid.UUID, on: dt.date) -> Any:
    """The aged balance per client, as one grouped statement (ordered by client name)."""
    due = case(
        (Invoice.kind == InvoiceKind.CREDIT_NOTE, Invoice.settled - Invoice.total_ttc),
        else_=Invoice.total_ttc - Invoice.settled,
    )

    def bucket(*conditions: Any) -> Any:
        return func.coalesce(func.sum(case((and_(*conditions), due), else_=0)), 0)

    limits = [on - dt.timedelta(days=days) for days in (30, 60, 90)]
    # An alias: the restriction's own subqueries name ``billing_client`` and must not correlate with this join.
    client = aliased(BillingClient)
    base = (
        restrict(select(Invoice.client_id), principal, Permission.BILLING_FEES_READ, Invoice)
        .join(client, client.id == Invoice.client_id)
        .where(
            Invoice.entity_id == entity_id,
            Invoice.status == InvoiceStatus.VALIDATED,
            Invoice.issue_date <= on,
            func.abs(Invoice.total_ttc - Invoice.settled) > TOLERANCE,
        )
    )
    return (
        base.with_only_columns(
            Invoice.client_id.label("client_id"),
            client.name.label("name"),
            bucket(Invoice.due_date >= on).label("not_due"),
            bucket(Invoice.due_date < on, Invoice.due_date >= limits[0]).label("days_30"),
            bucket(Invoice.due_date < limits[0], Invoice.due_date >= limits[1]).label("days_60"),
            bucket(Invoice.due_date < limits[1], Invoice.due_date >= limits[2]).label("days_90"),
            bucket(Invoice.due_date < limits[2]).label("older"),
            func.coalesce(func.sum(due), 0).label("total"),
        )
        .group_by(Invoice.client_id, client.name, client.sort_name)
        .having(func.abs(func.sum(due)) > TOLERANCE)
        .order_by(client.sort_name, Invoice.client_id)
    )


class AgingService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(
        self, principal: Principal, entity_id: uuid.UUID, on: dt.date, paging: Paging = FIRST_PAGE
    ) -> tuple[Page[AgedRow], AgedRow]:
        """One page of clients, and the total row of every client."""
        grouped = statement(principal, entity_id, on)
        page: Page[Any] = await paginate(self.session, grouped, paging)
        rows = [AgedRow.of(dict(row._mapping)) for row in page.items]  # noqa: SLF001 - a Row's documented mapping
        return replace(page, items=rows), await self.total(grouped)

    async def total(self, grouped: Any) -> AgedRow:
        inner = grouped.order_by(None).subquery()
        summed = select(*(func.coalesce(func.sum(inner.c[key]), 0).label(key) for key in (*BUCKETS, "total")))
        row = (await self.session.execute(summed)).one()
        return AgedRow.of(dict(row._mapping))  # noqa: SLF001

    async def rows(self, principal: Principal, entity_id: uuid.UUID, on: dt.date) -> AsyncIterator[AgedRow]:
        """Every client's row, for the CSV export."""
        result = await self.session.stream(statement(principal, entity_id, on))
        async for row in result:
            yield AgedRow.of(dict(row._mapping))  # noqa: SLF001
