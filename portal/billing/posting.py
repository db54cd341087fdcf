"""The firm's own books: every validated invoice, credit note and payment posted in the billing entity's dossier.

Journal **VT** (ventes), one entry per invoice, dated its issue date, its number as piece:

* debit ``411000`` *Clients*, on the client's auxiliary account, the invoice's TTC;
* credit each revenue account (``706000``… as the lines say) its HT;
* credit the VAT collected, one account per rate (``VAT_ACCOUNTS``).

A credit note is the same entry, sides reversed. Journal **BQ** (banque), one entry per payment, dated the
day it was received: debit ``512000`` *Banque*, credit ``411000`` on the client's auxiliary account (an
overpayment too: it stays on the client's account as an advance). Applying a credit note or a client's credit
to an invoice moves nothing between accounts (both sit on the same auxiliary account): no entry.

The client's auxiliary account is ``C`` followed by its SIREN (``C552100554``), or, for a client without one,
by the last ten hexadecimal digits of its id (the random part of a UUIDv7): stable, and never reused.

Amounts are computed from the lines by ``portal.billing.amounts`` (HT per line, VAT per rate rounded per
rate), in cents, so an entry's debit always equals its credit. Posting is idempotent: ``uq_billing_entry_source``
keeps one entry per invoice or payment whatever runs twice or at once (``INSERT … ON CONFLICT DO NOTHING``).

VAT accounts, one per rate (a sub-account of 44571 *TVA collectée*, as the PCG lets a firm open them):

====== ==========
rate   account
====== ==========
20 %   445711
10 %   445712
5,5 %  445713
2,1 %  445714
other  445719
====== ==========
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from uuid_utils.compat import uuid7

from portal.billing import amounts
from portal.billing.fee_models import (
    FeeEntry,
    FeeEntryLine,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PostingKind,
)
from portal.billing.models import BillingClient
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.i18n import N_

SALES = "VT"
BANK_JOURNAL = "BQ"
JOURNAL_NAMES = {SALES: N_("Ventes"), BANK_JOURNAL: N_("Banque")}
CLIENTS = "411000"
BANK = "512000"
VAT_ACCOUNTS = {
    Decimal("20.00"): "445711",
    Decimal("10.00"): "445712",
    Decimal("5.50"): "445713",
    Decimal("2.10"): "445714",
}
OTHER_VAT = "445719"
# The labels an account carries in the FEC (CompteLib), by the longest prefix that names it.
ACCOUNT_LABELS = {
    "411": "Clients",
    "512": "Banque",
    "445711": "TVA collectée 20 %",
    "445712": "TVA collectée 10 %",
    "445713": "TVA collectée 5,5 %",
    "445714": "TVA collectée 2,1 %",
    "44571": "TVA collectée",
    "704": "Travaux",
    "706": "Prestations de services",
    "708": "Produits des activités annexes",
    "70": "Ventes",
}
_ID_CHUNK = 500


def account_label(account: str) -> str:
    """What an account of the postings is called (the PCG's words), by its longest known prefix."""
    for size in range(len(account), 1, -1):
        label = ACCOUNT_LABELS.get(account[:size])
        if label:
            return label
    return account


def vat_account(rate: Decimal) -> str:
    return VAT_ACCOUNTS.get(rate.quantize(amounts.CENT), OTHER_VAT)


def aux_account(client_id: uuid.UUID, siren: str | None) -> str:
    """The client's auxiliary account: ``C`` + SIREN, or ``C`` + the random end of its id."""
    return f"C{siren}" if siren else f"C{client_id.hex[-10:].upper()}"


@dataclass(frozen=True, slots=True)
class _Line:
    account: str
    label: str
    debit: int
    credit: int
    aux: tuple[str, str] | None = None


def _side(account: str, label: str, amount: int, *, credit: bool) -> _Line | None:
    """``amount`` cents on the credit side (``credit``) or the debit one; a negative amount goes to the other."""
    if amount == 0:
        return None
    if amount < 0:
        amount, credit = -amount, not credit
    return _Line(account, label, 0 if credit else amount, amount if credit else 0)


def invoice_lines(invoice: Invoice, client_aux: tuple[str, str]) -> list[_Line]:
    """The VT entry's lines of ``invoice`` (reversed for a credit note); debit total = credit total."""
    is_invoice = invoice.kind is InvoiceKind.INVOICE
    label = _entry_label(invoice)
    revenue: dict[str, int] = {}
    for item in invoice.lines:
        revenue[item.revenue_account] = revenue.get(item.revenue_account, 0) + amounts.to_cents(item.total_ht)
    totals = amounts.totals(invoice.lines)
    sides = [_side(account, label, cents, credit=is_invoice) for account, cents in sorted(revenue.items())]
    sides += [
        _side(vat_account(part.rate), label, amounts.to_cents(part.amount), credit=is_invoice)
        for part in totals.breakdown
    ]
    kept = [item for item in sides if item is not None]
    ttc = sum(item.credit - item.debit for item in kept) * (1 if is_invoice else -1)
    client = _side(CLIENTS, label, ttc, credit=not is_invoice)
    return ([_Line(client.account, label, client.debit, client.credit, client_aux)] if client else []) + kept


def _entry_label(invoice: Invoice) -> str:
    word = "Facture" if invoice.kind is InvoiceKind.INVOICE else "Avoir"
    return f"{word} {invoice.number} {invoice.client_name}"[:300]


def _insert(session: AsyncSession) -> Any:
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(FeeEntry).on_conflict_do_nothing(index_elements=["source_kind", "source_id"])


async def _write(session: AsyncSession, entries: list[tuple[dict[str, Any], list[_Line]]]) -> int:
    """Insert the entries not posted yet (the unique source decides) and the lines of those inserted."""
    if not entries:
        return 0
    stamp = dt.datetime.now(dt.UTC)
    rows = [{**entry, "created_at": stamp, "updated_at": stamp} for entry, _lines in entries]
    inserted = set((await session.execute(_insert(session).values(rows).returning(FeeEntry.id))).scalars())
    line_rows = [
        {
            "id": uuid7(),
            "entry_id": entry["id"],
            "line_no": number,
            "account": item.account,
            "aux_account": item.aux[0] if item.aux else None,
            "aux_label": item.aux[1][:200] if item.aux else None,
            "label": item.label,
            "debit": item.debit,
            "credit": item.credit,
            "created_at": stamp,
            "updated_at": stamp,
        }
        for entry, lines in entries
        if entry["id"] in inserted
        for number, item in enumerate(lines, start=1)
    ]
    if line_rows:
        await session.execute(insert(FeeEntryLine), line_rows)
    return len(inserted)


async def _clients(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
    wanted = list(set(ids))
    found: dict[uuid.UUID, tuple[str, str]] = {}
    for start in range(0, len(wanted), _ID_CHUNK):
        rows = await session.execute(
            select(BillingClient.id, BillingClient.siren, BillingClient.name).where(
                BillingClient.id.in_(wanted[start : start + _ID_CHUNK])
            )
        )
        found.update({key: (aux_account(key, siren), name) for key, siren, name in rows})
    return found


async def post_invoices(session: AsyncSession, invoice_ids: Sequence[uuid.UUID]) -> int:
    """Post the VT entry of each validated invoice or credit note of ``invoice_ids`` not posted yet; how many were.

    Called in the validating transaction; a few statements per 500 invoices, whatever their number. Posting
    again (or concurrently) adds nothing.
    """
    ids = list(dict.fromkeys(invoice_ids))
    written = 0
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        posted = select(FeeEntry.source_id).where(
            FeeEntry.source_kind == PostingKind.INVOICE, FeeEntry.source_id.in_(chunk)
        )
        statement = (
            select(Invoice)
            .options(selectinload(Invoice.lines))
            .where(Invoice.id.in_(chunk), Invoice.status == InvoiceStatus.VALIDATED, Invoice.id.not_in(posted))
        )
        invoices = list((await session.execute(statement)).scalars())
        clients = await _clients(session, (invoice.client_id for invoice in invoices))
        entries = []
        for invoice in invoices:
            aux = clients.get(invoice.client_id) or (aux_account(invoice.client_id, None), invoice.client_name)
            lines = invoice_lines(invoice, (aux[0], invoice.client_name or aux[1]))
            entry = {
                "id": uuid7(), "entity_id": invoice.entity_id, "source_kind": PostingKind.INVOICE,
                "source_id": invoice.id, "journal_code": SALES, "entry_date": invoice.issue_date,
                "piece_ref": (invoice.number or "")[:40], "label": _entry_label(invoice),
                "total": sum(item.debit for item in lines),
            }  # fmt: skip
            entries.append((entry, lines))
        written += await _write(session, entries)
    return written


async def post_payment(session: AsyncSession, payment: Payment) -> bool:
    """Post the BQ entry of ``payment`` (debit the bank, credit the client's account); False if already posted."""
    client = (await _clients(session, [payment.client_id])).get(payment.client_id)
    aux = client or (aux_account(payment.client_id, None), "")
    cents = amounts.to_cents(payment.amount)
    label = f"Encaissement {aux[1]}".strip()[:300]
    piece = (payment.reference.strip() or f"ENC-{payment.id.hex[-8:].upper()}")[:40]
    lines = [_Line(BANK, label, cents, 0), _Line(CLIENTS, label, 0, cents, aux)]
    entry = {
        "id": uuid7(), "entity_id": payment.entity_id, "source_kind": PostingKind.PAYMENT, "source_id": payment.id,
        "journal_code": BANK_JOURNAL, "entry_date": payment.received_on, "piece_ref": piece, "label": label,
        "total": cents,
    }  # fmt: skip
    return await _write(session, [(entry, lines)]) == 1


# --- reading them: the billing entity's Comptabilité and its FEC -------------------------------------------


@dataclass(frozen=True)
class FeeJournal:
    """A journal of the firm's fees over a period, as the dossier's Comptabilité lists it."""

    code: str
    entries: int
    debit: int  # cents; every entry balances
    first: dt.date
    last: dt.date

    @property
    def name(self) -> str:
        return JOURNAL_NAMES.get(self.code, self.code)

    @property
    def key(self) -> str:
        """How the Comptabilité page names it in its journal filter."""
        return f"facturation:{self.code}"


class FeeLedger:
    """The entries the portal posted in the billing entity's books, read for its Comptabilité and its FEC."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _where(self, entity_id: uuid.UUID, start: dt.date, end: dt.date, journal: str = "") -> list[Any]:
        where = [FeeEntry.entity_id == entity_id, FeeEntry.entry_date >= start, FeeEntry.entry_date <= end]
        if journal:
            where.append(FeeEntry.journal_code == journal)
        return where

    async def journals(self, entity_id: uuid.UUID, start: dt.date, end: dt.date) -> list[FeeJournal]:
        statement = (
            select(FeeEntry.journal_code, func.count(), func.coalesce(func.sum(FeeEntry.total), 0),
                   func.min(FeeEntry.entry_date), func.max(FeeEntry.entry_date))
            .where(*self._where(entity_id, start, end))
            .group_by(FeeEntry.journal_code)
            .order_by(FeeEntry.journal_code.desc())  # VT, then BQ
        )  # fmt: skip
        return [
            FeeJournal(code=code, entries=int(count), debit=int(debit), first=first, last=last)
            for code, count, debit, first, last in await self.session.execute(statement)
        ]

    async def posted_between(self, entity_id: uuid.UUID, start: dt.date, end: dt.date) -> bool:
        statement = select(FeeEntry.id).where(*self._where(entity_id, start, end)).limit(1)
        return (await self.session.execute(statement)).first() is not None

    async def entries_page(
        self, entity_id: uuid.UUID, journal: str, start: dt.date, end: dt.date, paging: Paging = FIRST_PAGE
    ) -> Page[FeeEntry]:
        """One page of a journal's entries (latest first), each with its lines."""
        statement = (
            select(FeeEntry)
            .options(selectinload(FeeEntry.lines))
            .where(*self._where(entity_id, start, end, journal))
            .order_by(FeeEntry.entry_date.desc(), FeeEntry.piece_ref.desc(), FeeEntry.id)
        )
        return await paginate(self.session, statement, paging)

    async def export_rows(
        self, entity_id: uuid.UUID, start: dt.date, end: dt.date, *, chunk: int = 2_000
    ) -> AsyncIterator[tuple[Any, ...]]:
        """The entries from ``start`` to ``end`` as FEC rows (``ROW_FIELDS`` order), by journal then date, streamed.

        EcritureNum counts the entries of each journal in that order, prefixed by the journal (``VT-000042``), so it
        is unique across journals; ValidDate is the entry's date (posted once, when validated or received).
        """
        order = (FeeEntry.journal_code.desc(), FeeEntry.entry_date, FeeEntry.piece_ref, FeeEntry.id)
        numbers: dict[str, int] = {}
        offset = 0
        while True:
            statement = (
                select(FeeEntry)
                .options(selectinload(FeeEntry.lines))
                .where(*self._where(entity_id, start, end))
                .order_by(*order)
                .offset(offset)
                .limit(chunk)
            )
            entries = list((await self.session.execute(statement)).scalars())
            if not entries:
                return
            for entry in entries:
                code = entry.journal_code
                numbers[code] = number = numbers.get(code, 0) + 1
                journal_label = JOURNAL_NAMES.get(code, code)
                for item in entry.lines:
                    yield (
                        0, code, journal_label, f"{code}-{number:06d}", entry.entry_date, item.account,
                        account_label(item.account), item.aux_account, item.aux_label, entry.piece_ref,
                        entry.entry_date, item.label, item.debit, item.credit, None, None, entry.entry_date, None,
                        None, None, None, None, None,
                    )  # fmt: skip
            offset += len(entries)
