"""E-invoicing: what a plateforme agréée reports of an invoice, and the files one takes.

A connector to a platform records each status it receives (``record_status``: *Déposée*, *Rejetée*, *Refusée*,
*Encaissée*…) as an ``EInvoiceEvent``, once per invoice, status and platform reference (a status delivered twice is
one event), and the invoice's current status follows the latest one. ``archive`` streams the Factur-X files of the
invoices validated over a period as one ZIP (stored, not deflated: the PDFs are compressed already), for a platform
or an accountant that takes files.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import IO, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.recorder import record
from portal.billing.fee_models import EInvoiceEvent, EInvoiceStatus, Invoice

ZIP_CHUNK = 20


class _Sink:
    """A write-only file the ZIP writer writes into, emptied after each invoice (the archive is never held)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        return None

    def drain(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


async def archive(
    invoices: AsyncIterator[tuple[str, uuid.UUID]], pdf_of: Callable[[uuid.UUID], Awaitable[bytes]]
) -> AsyncIterator[bytes]:
    """A ZIP of ``<number>.pdf`` for each (number, id) of ``invoices``, written as it is read."""
    sink = _Sink()
    with zipfile.ZipFile(cast("IO[bytes]", sink), "w", compression=zipfile.ZIP_STORED) as archive_file:
        async for number, invoice_id in invoices:
            archive_file.writestr(f"{number}.pdf", await pdf_of(invoice_id))
            yield sink.drain()
    yield sink.drain()


async def record_status(
    session: AsyncSession,
    invoice_id: uuid.UUID,
    status: EInvoiceStatus,
    *,
    occurred_at: dt.datetime,
    platform_reference: str = "",
    message: str = "",
) -> bool:
    """Record a status the platform reported; False when that very status was recorded already."""
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or invoice.number is None:
        return False
    known = await session.execute(
        select(EInvoiceEvent.id).where(
            EInvoiceEvent.invoice_id == invoice_id,
            EInvoiceEvent.status == status,
            EInvoiceEvent.platform_reference == platform_reference,
        )
    )
    if known.first() is not None:
        return False
    session.add(EInvoiceEvent(invoice_id=invoice_id, status=status, occurred_at=occurred_at,
                              platform_reference=platform_reference, message=message[:1000]))  # fmt: skip
    latest = (
        await session.execute(
            select(EInvoiceEvent.occurred_at).where(EInvoiceEvent.invoice_id == invoice_id)
            .order_by(EInvoiceEvent.occurred_at.desc()).limit(1)
        )
    ).scalar()  # fmt: skip
    if latest is None or occurred_at >= latest:
        invoice.einvoice_status = status
    await session.flush()
    record(session, "invoice.einvoice_status", object_type="billing_invoice", object_id=str(invoice_id),
           number=invoice.number, status=status.value)  # fmt: skip
    return True


async def events_of(session: AsyncSession, invoice_id: uuid.UUID) -> list[EInvoiceEvent]:
    rows = await session.execute(
        select(EInvoiceEvent).where(EInvoiceEvent.invoice_id == invoice_id).order_by(EInvoiceEvent.occurred_at)
    )
    return list(rows.scalars())
