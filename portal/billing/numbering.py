"""Invoice numbers: one continuous sequence per series (``F2026``, ``AV2026``), taken at validation.

``take`` raises the series' counter by the number of invoices being validated with one ``UPDATE … RETURNING``
in the validating transaction. The row stays locked until that transaction ends (PostgreSQL's row lock; on
SQLite the writer's ``BEGIN IMMEDIATE``), so concurrent validations queue on it and each gets its own block of
numbers; a rolled-back validation gives its block back with everything else it wrote, so no number is ever
skipped. Drafts never touch it. ``uq_billing_invoice_number`` refuses a duplicate whatever happens above.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import cast

from sqlalchemy import Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from portal.billing.fee_models import InvoiceKind, InvoiceSequence

DIGITS = 6


def series_of(prefix: str, issue_date: dt.date) -> str:
    """The series an invoice issued on ``issue_date`` is numbered in: its prefix and year (``F2026``)."""
    return f"{prefix}{issue_date.year}"


def number_of(series: str, sequence: int) -> str:
    """``F2026-000123``."""
    return f"{series}-{sequence:0{DIGITS}d}"


def prefix_for(kind: InvoiceKind, invoice_prefix: str, credit_note_prefix: str) -> str:
    return invoice_prefix if kind is InvoiceKind.INVOICE else credit_note_prefix


async def take(session: AsyncSession, entity_id: uuid.UUID, series: str, count: int) -> int:
    """Reserve ``count`` consecutive numbers of ``series``; returns the first. Holds the series until commit."""
    table = cast("Table", InvoiceSequence.__table__)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    await session.execute(
        dialect.insert(table)
        .values(id=uuid.uuid4(), entity_id=entity_id, series=series, last_number=0, **_stamps())
        .on_conflict_do_nothing()
    )
    last: int = (
        await session.execute(
            update(table)
            .where(table.c.entity_id == entity_id, table.c.series == series)
            .values(last_number=table.c.last_number + count)
            .returning(table.c.last_number)
        )
    ).scalar_one()
    return last - count + 1


def _stamps() -> dict[str, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return {"created_at": now, "updated_at": now}
