"""E-invoicing: the statuses a plateforme agréée reports, recorded once each, and the ZIP of a period's Factur-X
files, holding only what the reader may see."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import httpx
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from portal.billing.einvoicing import events_of, record_status
from portal.billing.facturx import read_back
from portal.billing.fee_models import EInvoiceStatus
from portal.billing.invoices import InvoiceService
from portal.clients.models import DossierAccess
from tests.billing.test_controllers import as_user
from tests.factories.billing import line, make_draft, make_fees

MOMENT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


async def test_a_status_reported_twice_is_recorded_once_and_the_latest_is_the_invoices(
    db_session: AsyncSession,
) -> None:
    fees = await make_fees(db_session, clients=1)
    invoice = await make_draft(db_session, fees, fees.clients[0])
    await InvoiceService(db_session).validate(fees.principal, [invoice.id])

    assert await record_status(db_session, invoice.id, EInvoiceStatus.DEPOSITED, occurred_at=MOMENT,
                               platform_reference="PA-42")  # fmt: skip
    assert not await record_status(db_session, invoice.id, EInvoiceStatus.DEPOSITED, occurred_at=MOMENT,
                                   platform_reference="PA-42")  # fmt: skip
    later = MOMENT + dt.timedelta(days=20)
    assert await record_status(
        db_session, invoice.id, EInvoiceStatus.CASHED, occurred_at=later, platform_reference="PA-42"
    )
    # A status delivered late (older than the last one) is kept in the history, not made current.
    earlier = MOMENT + dt.timedelta(hours=1)
    assert await record_status(db_session, invoice.id, EInvoiceStatus.ISSUED, occurred_at=earlier,
                               platform_reference="PA-42")  # fmt: skip

    assert [event.status for event in await events_of(db_session, invoice.id)] == [
        EInvoiceStatus.DEPOSITED, EInvoiceStatus.ISSUED, EInvoiceStatus.CASHED,
    ]  # fmt: skip
    assert invoice.einvoice_status is EInvoiceStatus.CASHED


async def test_the_months_zip_holds_the_factur_x_files_the_reader_may_see(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    fees = await make_fees(db_session, clients=2)
    fees.dossiers[1].is_confidential = True
    db_session.add(DossierAccess(dossier_id=fees.dossiers[1].id, user_id=fees.partner.id))
    shown = await make_draft(db_session, fees, fees.clients[0], line(price="100.00"))
    secret = await make_draft(db_session, fees, fees.clients[1], line(price="250.00"))
    validated = await InvoiceService(db_session).validate(fees.principal, [shown.id, secret.id])
    numbers = {invoice.client_name: invoice.number for invoice in validated.invoices}
    await db_session.flush()

    await as_user(client, fees.partner)
    granted = zipfile.ZipFile(io.BytesIO((await client.get("/facturation/factures/archive.zip")).content))
    assert sorted(granted.namelist()) == sorted(f"{number}.pdf" for number in numbers.values())
    totals = {read_back(granted.read(name))["total_ttc"] for name in granted.namelist()}
    assert {str(total) for total in totals} == {"120.00", "300.00"}

    await db_session.execute(delete(DossierAccess).where(DossierAccess.user_id == fees.partner.id))
    hidden = zipfile.ZipFile(io.BytesIO((await client.get("/facturation/factures/archive.zip")).content))
    assert hidden.namelist() == [f"{numbers[shown.client_name]}.pdf"]
