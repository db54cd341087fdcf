"""The firm's fees: billing clients, validated invoices and credit notes, as the lead's validation leaves them.

``invoice(...)`` writes a validated invoice directly (number given, totals computed by
``portal.billing.amounts.totals``, the client's identity copied), for tests of what comes after
validation: payments, reminders, the aged balance, the postings.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.billing import amounts
from portal.billing.fee_models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from portal.billing.models import BillingClient
from portal.clients.models import Dossier
from portal.firm.models import Firm
from portal.settings import FIRM_TIMEZONE
from tests.factories.clients import valid_siren

_numbers = itertools.count(1)


async def billing_client(
    session: AsyncSession,
    entity: Dossier,
    name: str = "Client Test",
    *,
    siren: str | None = None,
    origin: Dossier | None = None,
    email: str = "",
) -> BillingClient:
    client = BillingClient(
        billing_entity_id=entity.id, name=name, sort_name=name.upper(), match_name=name.lower(), siren=siren,
        origin_dossier_id=origin.id if origin else None, billing_email=email,
    )  # fmt: skip
    session.add(client)
    await session.flush()
    return client


def line(
    label: str,
    unit_price: str | Decimal,
    *,
    quantity: str | Decimal = "1",
    vat_rate: str | Decimal = "20.00",
    account: str = "706000",
) -> InvoiceLine:
    """One invoice line; its total HT is quantity × unit price rounded to the cent."""
    price, count, rate = Decimal(unit_price), Decimal(quantity), Decimal(vat_rate)
    return InvoiceLine(label=label, quantity=count, unit_price=price, vat_rate=rate, revenue_account=account,
                       total_ht=amounts.line_total(count, price))  # fmt: skip


async def invoice(
    session: AsyncSession,
    entity: Dossier,
    client: BillingClient,
    lines: Sequence[InvoiceLine] = (),
    *,
    number: str | None = None,
    issue_date: dt.date | None = None,
    due_date: dt.date | None = None,
    kind: InvoiceKind = InvoiceKind.INVOICE,
    credited: Invoice | None = None,
    email: str | None = None,
) -> Invoice:
    """A validated invoice (or credit note, ``kind``) of ``client``, numbered ``number`` (one drawn if None),
    issued ten days ago unless ``issue_date`` says, due 30 days after its issue unless ``due_date`` says."""
    issue_date = issue_date or dt.datetime.now(FIRM_TIMEZONE).date() - dt.timedelta(days=10)
    sequence = next(_numbers)
    prefix = "AV" if kind is InvoiceKind.CREDIT_NOTE else "F"
    number = number or f"{prefix}{issue_date.year}-{sequence:06d}"
    chosen = list(lines) or [line("Tenue comptable", "100.00")]
    for position, item in enumerate(chosen):
        item.position = position
    totals = amounts.totals(chosen)
    document = Invoice(
        entity_id=entity.id, client_id=client.id, kind=kind, status=InvoiceStatus.VALIDATED,
        credited_invoice_id=credited.id if credited else None, series=number.split("-", 1)[0], sequence=sequence,
        number=number, issue_date=issue_date, due_date=due_date or issue_date + dt.timedelta(days=30),
        client_name=client.name, client_siren=client.siren,
        client_email=client.billing_email if email is None else email,
        total_ht=totals.ht, total_vat=totals.vat, total_ttc=totals.ttc, lines=chosen,
        validated_at=dt.datetime.combine(issue_date, dt.time(9), tzinfo=dt.UTC),
    )  # fmt: skip
    session.add(document)
    await session.flush()
    return document


async def billing_entity(session: AsyncSession, name: str = "Cabinet Lumière Gestion") -> Dossier:
    """The firm's own dossier that bills, linked as the firm's billing entity (the firm is created if need be)."""
    entity = Dossier(name=name, siren=valid_siren(), is_firm_dossier=True)
    session.add(entity)
    await session.flush()
    firm = (await session.execute(select(Firm).limit(1))).scalar_one_or_none()
    if firm is None:
        firm = Firm(name="Cabinet Lumière")
        session.add(firm)
    firm.billing_entity_id = entity.id
    await session.flush()
    return entity
