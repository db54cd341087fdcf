"""Expense notes, filed through the real service (receipts really stored), and tiny real receipt files."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.models import User
from portal.accounts.services import dossier_roles_of
from portal.auth.policy import Principal
from portal.clients.models import Dossier
from portal.expenses.categories import ExpenseCategory
from portal.expenses.models import ExpenseLine, ExpenseNote
from portal.expenses.receipts import ReceiptStore
from portal.expenses.schemas import ExpenseValues, MileageValues
from portal.expenses.services import ExpenseNoteService
from portal.settings import load_settings


def png_bytes(size: tuple[int, int] = (8, 6), color: str = "white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "navy").save(buffer, "JPEG")
    return buffer.getvalue()


FONT_RESOURCES = b"/Resources << /Font << /F1 5 0 R >> >> >>"


def pdf_bytes(text: str = "Ticket") -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R " + FONT_RESOURCES,
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def receipt_store() -> ReceiptStore:
    settings = load_settings()
    return ReceiptStore(settings.receipts_dir, max_bytes=settings.receipt_max_bytes)


async def principal_of(session: AsyncSession, user: User) -> Principal:
    return Principal.build(
        user_id=user.id,
        email=user.email,
        name=user.name,
        locale="fr",
        roles=user.firm_roles,
        dossier_roles=await dossier_roles_of(session, user.id),
    )


async def make_note(
    session: AsyncSession,
    author: User,
    dossier: Dossier,
    *,
    title: str = "Frais de mars",
    expenses: tuple[tuple[ExpenseCategory, str, str], ...] = ((ExpenseCategory.BUSINESS_MEAL, "60.00", "10.00"),),
    trips: tuple[tuple[int, int], ...] = (),
    day: dt.date = dt.date(2026, 3, 12),
    submit: bool = False,
    any_dossier: bool = False,
) -> ExpenseNote:
    """A note of ``author`` (Employé of ``dossier``): ``expenses`` as (category, TTC, VAT) with a PNG
    receipt each, ``trips`` as (CV, km) on the barème; submitted if asked. ``any_dossier`` inserts the
    note itself, on a dossier that need not be the firm's (the leak test ties one to a client dossier)."""
    service = ExpenseNoteService(session=session)
    principal = await principal_of(session, author)
    if any_dossier:
        last = await session.scalar(select(func.max(ExpenseNote.sequence)).where(ExpenseNote.year == day.year))
        note = ExpenseNote(dossier_id=dossier.id, author_id=author.id, year=day.year, sequence=(last or 0) + 1,
                           title=title)  # fmt: skip
        session.add(note)
        await session.flush()
        await session.refresh(note)
    else:
        note = await service.create_note(principal, dossier.id, title)
    store = receipt_store()
    for category, ttc, vat in expenses:
        values = ExpenseValues(day, "Brasserie du Port", category, Decimal(ttc), Decimal(vat), None)
        await service.add_expense_line(principal, note, values, await store.check(png_bytes(), "ticket.png"), store)
    for horsepower, km in trips:
        await service.add_mileage_line(
            principal, note, MileageValues(day, "Lyon - Vienne", horsepower, km, electric=False)
        )
    await session.refresh(note)
    if submit:
        await service.submit(principal, note)
    return note


def line_of(note: ExpenseNote, category: ExpenseCategory) -> ExpenseLine:
    return next(line for line in note.lines if line.category is category)
