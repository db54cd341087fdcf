"""Facturation récurrente: a run writes one draft per client for what its missions bill over a period.

The job (``tasks.draft_run``) reads the billable missions once, then writes the drafts client batch by client
batch, each batch one transaction with two multi-row ``INSERT``s (invoices, then their lines). A mission is
billed once per period: ``uq_billing_invoice_line_mission_period`` refuses a second line for it, and lines
already billed (a draft of another run, an invoice validated before) are left out before writing. A client
gets one draft per run (``uq_billing_invoice_run_client``), so a retried batch writes nothing twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from litestar.exceptions import NotFoundException
from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.recorder import record
from portal.auth.policy import Principal, restrict
from portal.billing.amounts import totals
from portal.billing.fee_models import (
    BillingRun,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from portal.billing.invoices import MANAGE, READ, FeeError, LineValues, today
from portal.billing.models import BillingClient
from portal.i18n import N_

CLIENT_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class Billable:
    """What one mission bills a client over the run's period (its ``period_start`` is its key)."""

    client_id: uuid.UUID
    line: LineValues


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def _batches(items: Sequence[uuid.UUID], size: int) -> list[list[uuid.UUID]]:
    iterator = iter(items)
    batches: list[list[uuid.UUID]] = []
    while batch := list(islice(iterator, size)):
        batches.append(batch)
    return batches


async def already_billed(session: AsyncSession, lines: Sequence[LineValues]) -> set[tuple[uuid.UUID, dt.date]]:
    """The (mission, period) pairs among ``lines`` some invoice or draft already bills."""
    keys = [(line.mission_id, line.period_start) for line in lines if line.mission_id and line.period_start]
    found: set[tuple[uuid.UUID, dt.date]] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = await session.execute(
            select(InvoiceLine.mission_id, InvoiceLine.period_start).where(
                tuple_(InvoiceLine.mission_id, InvoiceLine.period_start).in_(chunk)
            )
        )
        found.update((row[0], row[1]) for row in rows if row[0] is not None and row[1] is not None)
    return found


async def write_drafts(session: AsyncSession, run: BillingRun, billables: Sequence[Billable]) -> int:
    """One draft per client of ``billables`` (those of one batch), in two statements; returns how many."""
    billed = await already_billed(session, [item.line for item in billables])
    by_client: dict[uuid.UUID, list[LineValues]] = {}
    for item in billables:
        if (item.line.mission_id, item.line.period_start) not in billed:
            by_client.setdefault(item.client_id, []).append(item.line)
    existing = set(
        (
            await session.execute(
                select(Invoice.client_id).where(Invoice.run_id == run.id, Invoice.client_id.in_(list(by_client)))
            )
        ).scalars()
    )
    found = await session.execute(
        select(BillingClient.id, BillingClient.name).where(BillingClient.id.in_(list(by_client)))
    )
    names = {row[0]: row[1] for row in found}
    now = dt.datetime.now(dt.UTC)
    invoices: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for client_id, client_lines in by_client.items():
        if client_id in existing:
            continue
        invoice_id = uuid.uuid4()
        figures = totals(client_lines)
        invoices.append({
            "id": invoice_id, "entity_id": run.entity_id, "client_id": client_id, "kind": InvoiceKind.INVOICE,
            "status": InvoiceStatus.DRAFT, "run_id": run.id, "issue_date": run.issue_date,
            "due_date": run.issue_date, "period_start": run.period_start, "period_end": run.period_end,
            "client_name": names.get(client_id, ""), "total_ht": figures.ht, "total_vat": figures.vat,
            "total_ttc": figures.ttc, "created_at": now, "updated_at": now,
        })  # fmt: skip
        for position, line in enumerate(client_lines):
            lines.append({
                "id": uuid.uuid4(), "invoice_id": invoice_id, "position": position, "mission_id": line.mission_id,
                "service_id": line.service_id, "period_start": line.period_start, "label": line.label,
                "unit": line.unit, "quantity": line.quantity, "unit_price": line.unit_price,
                "vat_rate": line.vat_rate, "revenue_account": line.revenue_account, "total_ht": line.total_ht,
                "created_at": now, "updated_at": now,
            })  # fmt: skip
    if invoices:
        await session.execute(insert(Invoice), invoices)
        await session.execute(insert(InvoiceLine), lines)
    return len(invoices)


async def billables_for(session: AsyncSession, run: BillingRun) -> list[Billable]:
    """What the accepted lettres de mission bill over the run's period, client by client."""
    from portal.billing.engagements import billable_missions  # noqa: PLC0415 - engagements sits beside runs

    found = await billable_missions(session, run.entity_id, run.period_start, run.period_end)
    return [
        Billable(
            client_id=item.client_id,
            line=LineValues(
                label=item.label,
                quantity=item.quantity,
                unit_price=item.unit_price,
                vat_rate=item.vat_rate,
                unit=item.unit,
                revenue_account=item.revenue_account,
                service_id=item.service_id,
                mission_id=item.mission_id,
                period_start=item.period_start,
            ),
        )
        for item in found
    ]


async def count_drafts(session: AsyncSession, run_id: uuid.UUID) -> int:
    counted = await session.execute(
        select(func.count()).select_from(Invoice).where(Invoice.run_id == run_id, Invoice.status == InvoiceStatus.DRAFT)
    )
    return int(counted.scalar_one())


def client_batches(billables: Sequence[Billable], size: int = CLIENT_BATCH) -> list[list[Billable]]:
    """``billables`` cut into batches of ``size`` clients (a client's lines stay together)."""
    by_client: dict[uuid.UUID, list[Billable]] = {}
    for item in billables:
        by_client.setdefault(item.client_id, []).append(item)
    return [[item for client_id in batch for item in by_client[client_id]] for batch in _batches(list(by_client), size)]


class BillingRunService:
    """The runs of Facturation récurrente, as a person may read or start them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def start(self, principal: Principal, entity_id: uuid.UUID, month: dt.date) -> BillingRun:
        """A run for ``month`` (its first to last day), dated its last day; its job requested in this transaction.

        A month already run is refused (``uq_billing_run_period``), naming the run to open instead."""
        from portal.billing.tasks import draft_run  # noqa: PLC0415 - the job module imports this one

        if not principal.can(MANAGE, entity_id):
            raise NotFoundException
        start, end = month_bounds(month)
        found = await self.for_period(entity_id, start, end)
        if found is not None:
            raise FeeError(N_("La facturation de cette période a déjà été lancée."), "mois", run_id=str(found.id))
        run = BillingRun(entity_id=entity_id, period_start=start, period_end=end, issue_date=max(end, today()),
                         created_by_id=principal.user_id)  # fmt: skip
        try:
            async with self.session.begin_nested():
                self.session.add(run)
                await self.session.flush()
        except IntegrityError:
            raise FeeError(N_("La facturation de cette période a déjà été lancée."), "mois") from None
        job_run = await draft_run.options(created_by_id=principal.user_id).enqueue(self.session, run_id=str(run.id))
        run.job_run_id = job_run.id
        await self.session.flush()
        record(self.session, "billing_run.started", object_type="billing_run", object_id=str(run.id),
               period_start=start.isoformat(), period_end=end.isoformat())  # fmt: skip
        return run

    async def for_period(self, entity_id: uuid.UUID, start: dt.date, end: dt.date) -> BillingRun | None:
        found: BillingRun | None = (
            await self.session.execute(
                select(BillingRun).where(
                    BillingRun.entity_id == entity_id, BillingRun.period_start == start, BillingRun.period_end == end
                )
            )
        ).scalar_one_or_none()
        return found

    async def runs(self, principal: Principal) -> list[BillingRun]:
        statement = restrict(select(BillingRun), principal, READ, BillingRun).order_by(BillingRun.period_start.desc())
        return list((await self.session.execute(statement.limit(24))).scalars())

    async def get(self, principal: Principal, run_id: uuid.UUID) -> BillingRun:
        found: BillingRun | None = (
            await self.session.execute(
                restrict(select(BillingRun), principal, READ, BillingRun).where(BillingRun.id == run_id)
            )
        ).scalar_one_or_none()
        if found is None:
            raise NotFoundException
        return found

    async def figures(self, principal: Principal, run_id: uuid.UUID) -> dict[str, Any]:
        """The run's invoices the person may see: drafts and validated ones, with their totals HT and TTC."""
        grouped: Any = (
            select(Invoice.status, func.count(), func.sum(Invoice.total_ht), func.sum(Invoice.total_ttc))
            .where(Invoice.run_id == run_id)
            .group_by(Invoice.status)
        )
        statement = restrict(grouped, principal, READ, Invoice)
        rows = {row[0]: row for row in await self.session.execute(statement)}
        figures: dict[str, Any] = {}
        for status in InvoiceStatus:
            row = rows.get(status)
            figures[status.value] = {
                "count": int(row[1]) if row else 0,
                "ht": row[2] if row else None,
                "ttc": row[3] if row else None,
            }
        return figures
