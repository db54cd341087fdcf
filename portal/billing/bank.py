"""Rapprochement bancaire: a bank statement's credit lines, each matched to an invoice the person confirms.

The statement is a CSV as banks export it: ``date;libellé;montant;référence`` (French dates ``31/12/2026``,
decimal commas ``1 234,56``), or the common layout with separate *Débit* and *Crédit* columns. Columns are found
by their header's words (accents, case and spaces aside), in any order; a semicolon, a tab or a comma separates
them (the header says which). Only credits are kept (money received); a file with any unreadable line is refused
whole, every error with its line number, and nothing is saved.

A line imported twice is one line: its ``fingerprint`` (date, amount, label, reference, and how many identical
lines came before it in the same file: two equal transfers on one day stay two) is unique per billing entity, so a
statement overlapping the last adds only what is new.

Each line gets a suggested invoice, among the entity's open invoices: the one whose number appears in the label
or the reference (``F2026-000123``, also written ``F2026000123`` or ``F2026-123``), else the only one whose balance
due equals the amount. The person confirms it (possibly another invoice, typed by its number): a payment of the
line's amount is recorded for that invoice's client (``PaymentService.record``, ``bank_line_id`` set, the rest as
credit), and the line is *Rapprochée*; or ignores the line. Both are conditional updates on the line's status, so a
line is never matched twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from litestar.exceptions import NotFoundException, PermissionDeniedException
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from portal.audit.recorder import record
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing.fee_models import (
    BankLine,
    BankLineStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PaymentMethod,
)
from portal.billing.payments import Allocation, PaymentError, PaymentService, open_balance
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.i18n import N_, gettext

MAX_LABEL = 300
MAX_REFERENCE = 140
EMPTY = N_("Le relevé est vide.")
NOT_TEXT = N_("Le fichier n'est pas un relevé CSV lisible (texte séparé par des points-virgules).")
NO_COLUMNS = N_(
    "Ligne 1 : colonnes attendues « date;libellé;montant;référence », ou « Date;Libellé;Débit;Crédit » "
    "(colonnes trouvées : %(found)s)."
)
BAD_DATE = N_("Ligne %(line)s : « %(value)s » n'est pas une date (JJ/MM/AAAA).")
BAD_AMOUNT = N_("Ligne %(line)s : « %(value)s » n'est pas un montant (par exemple 1 234,56).")
NO_DATE = N_("Ligne %(line)s : la date manque.")
NO_AMOUNT = N_("Ligne %(line)s : le montant manque.")
COLUMN_COUNT = N_("Ligne %(line)s : nombre de colonnes %(found)s au lieu de %(expected)s.")
ALREADY_DONE = N_("Cette ligne a déjà été traitée.")
NO_INVOICE = N_("Aucune facture ouverte ne porte le numéro « %(invoice)s ».")
CHOOSE_INVOICE = N_("Indiquez la facture que ce virement règle.")

_DATE = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_SPACES = re.compile(r"[\s\u00a0\u202f€+]")
_AMOUNT = re.compile(r"-?\d+(?:[.,]\d{1,2})?")
_NUMBER = re.compile(r"([A-Z]{1,8})\s*-?\s*(\d{4})\s*-?\s*(\d{1,9})")


class StatementError(ValueError):
    """A statement refused: every problem found, each a French msgid with its values."""

    def __init__(self, problems: list[tuple[str, dict[str, Any]]]) -> None:
        super().__init__(problems[0][0] if problems else "")
        self.problems = problems

    def messages(self) -> list[str]:
        return [gettext(message) % params for message, params in self.problems]


@dataclass(frozen=True, slots=True)
class StatementLine:
    line_no: int
    booked_on: dt.date
    label: str
    amount: Decimal  # > 0: a credit
    reference: str


@dataclass
class Statement:
    """What a statement holds: its credit lines, and how many debit (or zero) lines were left aside."""

    credits: list[StatementLine] = field(default_factory=list)
    skipped: int = 0


def _word(header: str) -> str:
    plain = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z]", "", plain)


def _columns(header: list[str]) -> dict[str, int]:
    """Which column holds what, from the header's words."""
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        word = _word(name)
        if word.startswith("date") and "valeur" not in word:
            found.setdefault("date", index)
        elif word.startswith(("libelle", "label", "intitule", "description")):
            found.setdefault("label", index)
        elif word.startswith(("montant", "amount")):
            found.setdefault("amount", index)
        elif word.startswith("debit"):
            found.setdefault("debit", index)
        elif word.startswith("credit"):
            found.setdefault("credit", index)
        elif word.startswith(("reference", "ref")):
            found.setdefault("reference", index)
    for index, name in enumerate(header):  # a statement with only a value date
        if _word(name).startswith("date"):
            found.setdefault("date", index)
    return found


def parse_date(value: str) -> dt.date | None:
    value = value.strip()
    iso, french = _ISO.fullmatch(value), _DATE.fullmatch(value)
    try:
        if iso:
            return dt.date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        if french:
            day, month, year = (int(part) for part in french.groups())
            return dt.date(year + 2000 if year < 100 else year, month, day)  # noqa: PLR2004 - a two-digit year
    except ValueError:
        return None
    return None


def parse_amount(value: str) -> Decimal | None:
    """``1 234,56``, ``-12,00``, ``1234.56``, ``1.234,56`` → Decimal; None when it is not an amount."""
    cleaned = _SPACES.sub("", value)
    if "," in cleaned and "." in cleaned:
        cleaned = cleaned.replace(".", "")
    if not _AMOUNT.fullmatch(cleaned):
        return None
    try:
        return Decimal(cleaned.replace(",", ".")).quantize(Decimal("0.01"))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_statement(data: bytes) -> Statement:
    """The statement's credit lines; ``StatementError`` with every problem (and their line numbers) otherwise."""
    if b"\x00" in data[:4096]:
        raise StatementError([(NOT_TEXT, {})])
    text = _decode(data)
    rows = list(csv.reader(io.StringIO(text), delimiter=_separator(text)))
    header, columns = _header(rows)
    problems: list[tuple[str, dict[str, Any]]] = []
    statement = Statement()
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header) and len(row) <= max(columns.values()):
            problems.append((COLUMN_COUNT, {"line": line_no, "found": len(row), "expected": len(header)}))
            continue
        parsed = _line(line_no, row, columns, problems)
        if parsed is None:
            continue
        if parsed.amount > 0:
            statement.credits.append(parsed)
        else:
            statement.skipped += 1
    if problems:
        raise StatementError(problems)
    return statement


def _header(rows: list[list[str]]) -> tuple[list[str], dict[str, int]]:
    """The header row (the first that is not blank, taken off ``rows``) and its columns; refused without them."""
    while rows and not any(cell.strip() for cell in rows[0]):
        rows.pop(0)
    if not rows:
        raise StatementError([(EMPTY, {})])
    header = rows[0]
    columns = _columns(header)
    if "date" not in columns or "label" not in columns or not ({"amount", "credit"} & set(columns)):
        raise StatementError([(NO_COLUMNS, {"found": ", ".join(cell.strip() for cell in header) or "—"})])
    return header, columns


def _separator(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {separator: first.count(separator) for separator in (";", "\t", ",")}
    best = max(counts, key=lambda key: counts[key])
    return best if counts[best] else ";"


def _cell(row: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return row[index].strip() if index is not None and index < len(row) else ""


def _line(
    line_no: int, row: list[str], columns: dict[str, int], problems: list[tuple[str, dict[str, Any]]]
) -> StatementLine | None:
    raw_date = _cell(row, columns, "date")
    booked_on = parse_date(raw_date)
    if not raw_date:
        problems.append((NO_DATE, {"line": line_no}))
    elif booked_on is None:
        problems.append((BAD_DATE, {"line": line_no, "value": raw_date}))
    amount: Decimal | None = None
    if "amount" in columns:
        raw = _cell(row, columns, "amount")
        amount = parse_amount(raw) if raw else None
        if not raw:
            problems.append((NO_AMOUNT, {"line": line_no}))
        elif amount is None:
            problems.append((BAD_AMOUNT, {"line": line_no, "value": raw}))
    else:
        credit, debit = _cell(row, columns, "credit"), _cell(row, columns, "debit")
        problems.extend(
            (BAD_AMOUNT, {"line": line_no, "value": raw})
            for raw in (credit, debit)
            if raw and parse_amount(raw) is None
        )
        if not credit and not debit:
            problems.append((NO_AMOUNT, {"line": line_no}))
        received = parse_amount(credit) if credit else None
        paid = parse_amount(debit) if debit else None
        amount = abs(received) if received else (-abs(paid) if paid else Decimal("0.00"))
    if booked_on is None or amount is None:
        return None
    label = " ".join(_cell(row, columns, "label").split())[:MAX_LABEL]
    reference = " ".join(_cell(row, columns, "reference").split())[:MAX_REFERENCE]
    return StatementLine(line_no, booked_on, label, amount, reference)


def fingerprints(lines: Sequence[StatementLine]) -> list[str]:
    """Each line's fingerprint: its values, and how many identical lines came before it in the file."""
    seen: dict[tuple[Any, ...], int] = {}
    prints = []
    for item in lines:
        key = (item.booked_on.isoformat(), str(item.amount), item.label.casefold(), item.reference.casefold())
        seen[key] = occurrence = seen.get(key, 0) + 1
        prints.append(hashlib.sha256("|".join([*key, str(occurrence)]).encode()).hexdigest())
    return prints


def number_key(text: str) -> set[tuple[str, int, int]]:
    """The invoice numbers a text may hold, as (prefix, year, sequence): ``F2026-000123`` = ``F2026123``."""
    return {(prefix, int(year), int(sequence)) for prefix, year, sequence in _NUMBER.findall(text.upper())}


@dataclass(frozen=True)
class OpenInvoice:
    id: uuid.UUID
    number: str
    balance: Decimal


def suggest(line: StatementLine | BankLine, invoices: Sequence[OpenInvoice]) -> OpenInvoice | None:
    """The invoice a credit line most likely pays: its number in the label or reference, else its amount alone."""
    mentioned = number_key(f"{line.label} {line.reference}")
    if mentioned:
        by_number = [item for item in invoices if number_key(item.number) & mentioned]
        if by_number:
            same_amount = [item for item in by_number if item.balance == line.amount]
            return (same_amount or by_number)[0]
    by_amount = [item for item in invoices if item.balance == line.amount]
    return by_amount[0] if len(by_amount) == 1 else None


@dataclass(frozen=True)
class ImportOutcome:
    credits: int  # credit lines read
    added: int  # new lines (the others were imported before)
    suggested: int  # new lines with a suggested invoice
    skipped: int  # debit lines left aside


class BankService:
    """Importing statements, and confirming or ignoring their lines (BILLING_FEES_MANAGE on the billing entity)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _check_manager(self, principal: Principal, entity_id: uuid.UUID) -> None:
        if not principal.can(Permission.BILLING_FEES_MANAGE, entity_id):
            raise PermissionDeniedException

    async def open_invoices(self, principal: Principal, entity_id: uuid.UUID) -> list[OpenInvoice]:
        statement = (
            restrict(select(Invoice), principal, Permission.BILLING_FEES_READ, Invoice)
            .with_only_columns(Invoice.id, Invoice.number, Invoice.total_ttc - Invoice.settled)
            .where(
                Invoice.entity_id == entity_id,
                Invoice.status == InvoiceStatus.VALIDATED,
                Invoice.kind == InvoiceKind.INVOICE,
                open_balance(),
            )
            .order_by(Invoice.due_date, Invoice.number)
        )
        return [
            OpenInvoice(key, number or "", Decimal(balance).quantize(Decimal("0.01")))
            for key, number, balance in await self.session.execute(statement)
        ]

    async def import_statement(self, principal: Principal, entity_id: uuid.UUID, data: bytes) -> ImportOutcome:
        """Read ``data`` and keep its new credit lines with their suggestion; ``StatementError``: nothing saved."""
        self._check_manager(principal, entity_id)
        statement = parse_statement(data)
        invoices = await self.open_invoices(principal, entity_id)
        stamp = dt.datetime.now(dt.UTC)
        rows = []
        for item, fingerprint in zip(statement.credits, fingerprints(statement.credits), strict=True):
            suggestion = suggest(item, invoices)
            rows.append({
                "id": uuid7(), "entity_id": entity_id, "booked_on": item.booked_on,
                "label": item.label, "amount": item.amount, "reference": item.reference, "fingerprint": fingerprint,
                "status": BankLineStatus.TO_MATCH, "suggested_invoice_id": suggestion.id if suggestion else None,
                "created_at": stamp, "updated_at": stamp,
            })  # fmt: skip
        added: list[uuid.UUID] = []
        if rows:
            module = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
            insert = module.insert(BankLine).on_conflict_do_nothing(index_elements=["entity_id", "fingerprint"])
            added = list((await self.session.execute(insert.values(rows).returning(BankLine.id))).scalars())
        new = set(added)
        suggested = sum(1 for row in rows if row["id"] in new and row["suggested_invoice_id"] is not None)
        outcome = ImportOutcome(len(statement.credits), len(added), suggested, statement.skipped)
        record(
            self.session, "billing_bank_line.imported", object_type="billing_entity", object_id=str(entity_id),
            dossier_id=entity_id, credits=outcome.credits, added=outcome.added, suggested=outcome.suggested,
        )  # fmt: skip
        return outcome

    def _lines(self, principal: Principal, entity_id: uuid.UUID) -> Any:
        return restrict(select(BankLine), principal, Permission.BILLING_FEES_READ, BankLine).where(
            BankLine.entity_id == entity_id
        )

    async def page(
        self, principal: Principal, entity_id: uuid.UUID, status: BankLineStatus, paging: Paging = FIRST_PAGE
    ) -> Page[BankLine]:
        statement = self._lines(principal, entity_id).where(BankLine.status == status)
        statement = statement.order_by(BankLine.booked_on.desc(), BankLine.created_at, BankLine.id)
        return await paginate(self.session, statement, paging)

    async def counts(self, principal: Principal, entity_id: uuid.UUID) -> dict[BankLineStatus, int]:
        statement = (
            self._lines(principal, entity_id).with_only_columns(BankLine.status, func.count()).group_by(BankLine.status)
        )
        found = {BankLineStatus(status): int(count) for status, count in await self.session.execute(statement)}
        return {status: found.get(status, 0) for status in BankLineStatus}

    async def invoices_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Invoice]:
        if not ids:
            return {}
        found = await self.session.execute(select(Invoice).where(Invoice.id.in_(set(ids))))
        return {invoice.id: invoice for invoice in found.scalars()}

    async def payments_of(self, line_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Payment]:
        if not line_ids:
            return {}
        found = await self.session.execute(select(Payment).where(Payment.bank_line_id.in_(set(line_ids))))
        return {payment.bank_line_id: payment for payment in found.scalars() if payment.bank_line_id}

    async def line(self, principal: Principal, entity_id: uuid.UUID, line_id: uuid.UUID) -> BankLine:
        found: BankLine | None = (
            await self.session.execute(self._lines(principal, entity_id).where(BankLine.id == line_id))
        ).scalar_one_or_none()
        if found is None:
            raise NotFoundException
        return found

    async def _invoice_numbered(self, principal: Principal, entity_id: uuid.UUID, number: str) -> OpenInvoice:
        wanted = number.strip()
        keys = number_key(wanted)
        for item in await self.open_invoices(principal, entity_id):
            if item.number.casefold() == wanted.casefold() or (keys and number_key(item.number) & keys):
                return item
        raise PaymentError(NO_INVOICE, "facture", invoice=wanted)

    async def confirm(
        self, principal: Principal, entity_id: uuid.UUID, line_id: uuid.UUID, number: str | None = None
    ) -> Payment:
        """Match the line to the invoice numbered ``number`` (its suggestion when None): a payment of the line's
        amount for that invoice's client, allocated to it (up to its balance), the line *Rapprochée*."""
        self._check_manager(principal, entity_id)
        line = await self.line(principal, entity_id, line_id)
        if line.status is not BankLineStatus.TO_MATCH:
            raise PaymentError(ALREADY_DONE, "facture")
        if number is not None and number.strip():
            target = await self._invoice_numbered(principal, entity_id, number)
            invoice_id = target.id
        elif line.suggested_invoice_id is not None:
            invoice_id = line.suggested_invoice_id
        else:
            raise PaymentError(CHOOSE_INVOICE, "facture")
        invoice = await self.session.get(Invoice, invoice_id)
        if invoice is None or invoice.entity_id != entity_id or invoice.balance_due <= 0:
            raise PaymentError(NO_INVOICE, "facture", invoice=invoice.number if invoice else number or "")
        async with self.session.begin_nested():
            taken = await self.session.execute(
                update(BankLine)
                .where(BankLine.id == line.id, BankLine.status == BankLineStatus.TO_MATCH)
                .values(status=BankLineStatus.MATCHED, suggested_invoice_id=invoice.id,
                        updated_at=dt.datetime.now(dt.UTC))
                .execution_options(synchronize_session=False)
            )  # fmt: skip
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise PaymentError(ALREADY_DONE, "facture")
            payment = await PaymentService(self.session).record(
                principal, entity_id, client_id=invoice.client_id, received_on=line.booked_on, amount=line.amount,
                method=PaymentMethod.TRANSFER, reference=line.reference or line.label,
                allocations=[Allocation(invoice.id, min(line.amount, invoice.balance_due))], bank_line_id=line.id,
            )  # fmt: skip
            record(
                self.session, "billing_bank_line.matched", object_type="billing_bank_line", object_id=str(line.id),
                dossier_id=entity_id, label=line.label, amount=line.amount, invoice=invoice.number,
            )  # fmt: skip
        await self.session.refresh(line)
        return payment

    async def ignore(self, principal: Principal, entity_id: uuid.UUID, line_id: uuid.UUID) -> None:
        """Leave the line aside (a credit that is no client's payment); once."""
        self._check_manager(principal, entity_id)
        line = await self.line(principal, entity_id, line_id)
        taken = await self.session.execute(
            update(BankLine)
            .where(BankLine.id == line.id, BankLine.status == BankLineStatus.TO_MATCH)
            .values(status=BankLineStatus.IGNORED, updated_at=dt.datetime.now(dt.UTC))
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise PaymentError(ALREADY_DONE, "facture")
        record(
            self.session, "billing_bank_line.ignored", object_type="billing_bank_line", object_id=str(line.id),
            dossier_id=entity_id, label=line.label, amount=line.amount,
        )  # fmt: skip
        await self.session.refresh(line)
