"""Billing clients, validated invoices and credit notes, written straight to the database."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from portal.billing import amounts
from portal.billing.fee_models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, Unit
from portal.billing.models import BillingClient
from portal.clients import names
from portal.clients.models import Dossier

# (label, unit, quantity, unit price HT, VAT rate)
LineValues = tuple[str, Unit, Decimal, Decimal, Decimal]
_sequence = itertools.count(1)


async def make_client(session: AsyncSession, entity: Dossier, *, name: str, siren: str | None) -> BillingClient:
    client = BillingClient(
        billing_entity_id=entity.id, name=name, sort_name=names.sort_key(name), match_name=names.match_key(name),
        siren=siren,
    )  # fmt: skip
    session.add(client)
    await session.flush()
    return client


async def make_invoice(
    session: AsyncSession,
    entity: Dossier,
    client: BillingClient,
    lines: Sequence[LineValues],
    *,
    kind: InvoiceKind = InvoiceKind.INVOICE,
    number: str | None = None,
    issue_date: dt.date = dt.date(2026, 12, 7),
    credited: Invoice | None = None,
    **values: object,
) -> Invoice:
    """A validated invoice (or credit note) of ``client`` with ``lines``, its client's identity copied."""
    sequence = next(_sequence)
    prefix = "AV" if kind is InvoiceKind.CREDIT_NOTE else "F"
    rows = [
        InvoiceLine(
            position=position,
            label=label,
            unit=unit,
            quantity=quantity,
            unit_price=price,
            vat_rate=rate,
            total_ht=amounts.line_total(quantity, price),
        )
        for position, (label, unit, quantity, price, rate) in enumerate(lines)
    ]
    totals = amounts.totals(rows)
    values.setdefault("client_name", client.name)
    values.setdefault("client_siren", client.siren)
    values.setdefault("client_vat_number", client.vat_number)
    invoice = Invoice(
        entity_id=entity.id, client_id=client.id, kind=kind, status=InvoiceStatus.VALIDATED,
        series=f"{prefix}{issue_date.year}", sequence=sequence,
        number=number or f"{prefix}{issue_date.year}-{sequence:06d}", issue_date=issue_date,
        due_date=issue_date + dt.timedelta(days=30), credited_invoice_id=credited.id if credited else None,
        total_ht=totals.ht, total_vat=totals.vat, total_ttc=totals.ttc, lines=rows, **values,
    )  # fmt: skip
    session.add(invoice)
    await session.flush()
    return invoice
