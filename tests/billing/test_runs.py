"""Facturation récurrente, run by real workers: a month's drafts from the accepted letters (revision applied), one
per client, nothing billed twice when a run is retried, asked again or overlaps an invoice already made."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.billing.fee_models import BillingRun, BillingRunStatus, Invoice, InvoiceLine, Rhythm
from portal.billing.invoices import FeeError, InvoiceService
from portal.billing.runs import BillingRunService, billables_for, write_drafts
from portal.jobs.models import JobStatus
from portal.jobs.runtime import Runtime
from tests.billing.test_client_base import relay
from tests.factories.engagements import client_of, fees_place, make_engagement, principal_of
from tests.waiting import wait_for_run

MONTH = dt.date(2026, 11, 1)


async def test_a_month_run_writes_one_draft_per_client_and_never_bills_a_mission_twice(
    committed: async_sessionmaker[AsyncSession], jobs: Runtime
) -> None:
    async with committed() as session, session.begin():
        place = await fees_place(session)
        bakery, garage = await client_of(session, place.bakery), await client_of(session, place.garage)
        # Started two years before: the bakery's 300 € is revised twice by 2 % (300 × 1,02² = 312,12).
        missions = [("Tenue comptable", Rhythm.MONTHLY, "300"), ("Bilan", Rhythm.YEARLY, "1200")]
        await make_engagement(session, place.entity.id, bakery, missions, start=dt.date(2024, 11, 1),
                              renewal=dt.date(2027, 11, 1), revision="2")  # fmt: skip
        await make_engagement(session, place.entity.id, garage, [("Social", Rhythm.QUARTERLY, "90"),
                              ("Juridique", Rhythm.YEARLY, "500")], start=dt.date(2026, 2, 1))  # fmt: skip
        partner = principal_of(place.partner)
        run = await BillingRunService(session).start(partner, place.entity.id, MONTH)

    await relay(jobs)
    async with committed() as session:
        assert run.job_run_id is not None
        finished = await wait_for_run(committed, run.job_run_id)
        assert finished.status is JobStatus.SUCCEEDED, finished.error
        drafts = list((await session.execute(select(Invoice).where(Invoice.run_id == run.id))).scalars())
        by_client = {draft.client_id: draft for draft in drafts}
        assert set(by_client) == {bakery.id, garage.id}
        # By hand: the bakery's monthly 312,12 and its yearly (anniversary in November) 1 200 × 1,02² = 1 248,48;
        # the garage's quarter falls in November (Feb, May, Aug, Nov), its yearly in February: 90 only.
        assert sorted((line.label, line.unit_price) for line in by_client[bakery.id].lines) == [
            ("Bilan", Decimal("1248.48")), ("Tenue comptable", Decimal("312.12")),
        ]  # fmt: skip
        assert by_client[bakery.id].total_ht == Decimal("1560.60")
        assert [(line.label, line.unit_price) for line in by_client[garage.id].lines] == [("Social", Decimal("90.00"))]
        assert (await session.get(BillingRun, run.id)).status is BillingRunStatus.READY  # type: ignore[union-attr]

        # Written again (a retried batch), nothing is added: every line is already billed.
        billables = await billables_for(session, run)
    async with committed() as session, session.begin():
        fresh = await session.get(BillingRun, run.id)
        assert fresh is not None
        assert await write_drafts(session, fresh, billables) == 0
    async with committed() as session, session.begin():
        with pytest.raises(FeeError):
            await BillingRunService(session).start(partner, place.entity.id, MONTH)

    # Validated, then a draft removed and the month asked again by a new run: only what is unbilled comes back.
    async with committed() as session, session.begin():
        await InvoiceService(session).validate(partner, [by_client[bakery.id].id])
        await session.execute(delete(Invoice).where(Invoice.id == by_client[garage.id].id))
        await session.execute(delete(BillingRun).where(BillingRun.id == run.id))
    async with committed() as session, session.begin():
        again = await BillingRunService(session).start(partner, place.entity.id, MONTH)
    assert again.job_run_id is not None
    await relay(jobs)
    await wait_for_run(committed, again.job_run_id)
    async with committed() as session:
        lines = await session.execute(
            select(InvoiceLine.label, func.count()).group_by(InvoiceLine.label).order_by(InvoiceLine.label)
        )
        assert [tuple(row) for row in lines] == [("Bilan", 1), ("Social", 1), ("Tenue comptable", 1)]
        rerun = list((await session.execute(select(Invoice).where(Invoice.run_id == again.id))).scalars())
        assert [draft.client_id for draft in rerun] == [garage.id]
