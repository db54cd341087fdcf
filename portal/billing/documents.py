"""What an invoice or a credit note says, read once from the database for its PDF and its XML.

``InvoiceDocument`` is pure data: the seller (the billing entity's dossier and the firm's billing settings),
the buyer as invoiced (the ``client_*`` columns copied at validation), the lines, the totals computed by
``amounts.totals`` from those lines (VAT rounded per rate), the payment terms, and, for a credit note, the
invoice it credits. ``portal.billing.facturx`` turns it into a Factur-X PDF, CII and UBL.

``documents_of`` reads any number of invoices in two statements: the invoices with their entity, settings
and credited invoice, then all their lines.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, lazyload

from portal.billing import amounts
from portal.billing.fee_models import BillingSettings, Invoice, InvoiceKind, InvoiceLine, Unit
from portal.clients.identifiers import format_siren, format_siret, vat_number
from portal.clients.models import Dossier

RECOVERY_INDEMNITY = Decimal("40.00")  # C. com. D441-5: owed by a professional client paying late
CURRENCY = "EUR"
COUNTRY = "FR"
_CHUNK = 500  # invoice ids per statement (SQLite's bound parameters)


@dataclass(frozen=True, slots=True)
class _Unset:
    """The billing settings of an entity that has saved none yet: the columns' defaults."""

    share_capital: str = ""
    trade_registry: str = ""
    email: str = ""
    phone: str = ""
    iban: str = ""
    bic: str = ""
    payment_terms_days: int = 30
    late_penalty_rate: Decimal = Decimal("10.00")
    vat_on_debits: bool = False


@dataclass(frozen=True, slots=True)
class Party:
    """A seller or a buyer as the invoice names them."""

    name: str
    siren: str | None = None
    nic: str | None = None
    vat_number: str | None = None
    legal_form: str = ""
    share_capital: str = ""
    trade_registry: str = ""
    address: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = COUNTRY
    email: str = ""
    phone: str = ""

    @property
    def siret(self) -> str | None:
        return self.siren + self.nic if self.siren and self.nic else None

    @property
    def siren_display(self) -> str:
        return format_siren(self.siren)

    @property
    def siret_display(self) -> str:
        return format_siret(self.siren, self.nic)

    @property
    def address_lines(self) -> tuple[str, ...]:
        """The street address, one line per line typed (blank ones left out)."""
        return tuple(line.strip() for line in self.address.splitlines() if line.strip())


@dataclass(frozen=True, slots=True)
class DocumentLine:
    position: int
    label: str
    unit: Unit
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    total_ht: Decimal


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    """Everything printed on an invoice or a credit note, and written in its XML."""

    id: uuid.UUID
    kind: InvoiceKind
    number: str | None  # None for a draft: it has no PDF nor XML
    issue_date: dt.date
    due_date: dt.date
    period_start: dt.date | None
    period_end: dt.date | None
    seller: Party
    buyer: Party
    lines: tuple[DocumentLine, ...]
    totals: amounts.Totals
    purchase_order: str = ""
    note: str = ""
    credited_number: str | None = None  # a credit note: the invoice it credits
    credited_date: dt.date | None = None
    payment_terms_days: int = 30
    late_penalty_rate: Decimal = Decimal("10.00")
    recovery_indemnity: Decimal = RECOVERY_INDEMNITY
    vat_on_debits: bool = False
    iban: str = ""
    bic: str = ""
    currency: str = CURRENCY

    @property
    def is_credit_note(self) -> bool:
        return self.kind is InvoiceKind.CREDIT_NOTE

    @property
    def service_date(self) -> dt.date:
        """The date the services were rendered: the end of the period billed, else the issue date."""
        return self.period_end or self.issue_date


def _seller(entity: Dossier, settings: BillingSettings | _Unset) -> Party:
    return Party(
        name=entity.name,
        siren=entity.siren,
        nic=entity.nic,
        vat_number=vat_number(entity.siren) if entity.siren else None,
        legal_form=entity.legal_form or "",
        share_capital=settings.share_capital or "",
        trade_registry=settings.trade_registry or "",
        address=entity.address or "",
        postal_code=entity.postal_code or "",
        city=entity.city or "",
        email=settings.email or "",
        phone=settings.phone or "",
    )


def _buyer(invoice: Invoice) -> Party:
    return Party(
        name=invoice.client_name,
        siren=invoice.client_siren,
        vat_number=invoice.client_vat_number or None,
        address=invoice.client_address,
        postal_code=invoice.client_postal_code,
        city=invoice.client_city,
        email=invoice.client_email,
    )


def _line(line: InvoiceLine, position: int) -> DocumentLine:
    return DocumentLine(
        position=position,
        label=line.label,
        unit=line.unit,
        quantity=line.quantity,
        unit_price=line.unit_price,
        vat_rate=line.vat_rate,
        total_ht=line.total_ht,
    )


async def documents_of(session: AsyncSession, invoice_ids: Sequence[uuid.UUID]) -> list[InvoiceDocument]:
    """The documents of ``invoice_ids``, in that order (an id that is not an invoice is left out).

    Two statements per 500 invoices: the invoices joined to their entity, its billing settings and the
    invoice a credit note credits; then their lines. No permission is checked here: the caller has.
    """
    found: dict[uuid.UUID, InvoiceDocument] = {}
    wanted = list(dict.fromkeys(invoice_ids))
    for start in range(0, len(wanted), _CHUNK):
        found.update(await _read(session, wanted[start : start + _CHUNK]))
    return [found[key] for key in wanted if key in found]


async def _read(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, InvoiceDocument]:
    credited = aliased(Invoice)
    statement = (
        select(Invoice, Dossier, BillingSettings, credited.number, credited.issue_date)
        .join(Dossier, Dossier.id == Invoice.entity_id)
        .outerjoin(BillingSettings, BillingSettings.entity_id == Invoice.entity_id)
        .outerjoin(credited, credited.id == Invoice.credited_invoice_id)
        .where(Invoice.id.in_(ids))
        .options(lazyload(Invoice.lines))
    )
    rows = (await session.execute(statement)).all()
    lines: dict[uuid.UUID, list[InvoiceLine]] = {}
    line_rows = await session.scalars(
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id.in_(ids))
        .order_by(InvoiceLine.invoice_id, InvoiceLine.position, InvoiceLine.id)
    )
    for line in line_rows:
        lines.setdefault(line.invoice_id, []).append(line)
    documents = {}
    for invoice, entity, billing_settings, credited_number, credited_date in rows:
        settings = billing_settings or _Unset()
        own = [_line(line, position) for position, line in enumerate(lines.get(invoice.id, []), start=1)]
        documents[invoice.id] = InvoiceDocument(
            id=invoice.id,
            kind=invoice.kind,
            number=invoice.number,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            seller=_seller(entity, settings),
            buyer=_buyer(invoice),
            lines=tuple(own),
            totals=amounts.totals(own),
            purchase_order=invoice.purchase_order,
            note=invoice.note,
            credited_number=credited_number,
            credited_date=credited_date,
            payment_terms_days=settings.payment_terms_days,
            late_penalty_rate=settings.late_penalty_rate,
            vat_on_debits=settings.vat_on_debits,
            iban=settings.iban,
            bic=settings.bic,
        )
    return documents
