"""Invoices and credit notes: drafts written, edited, grouped or removed; validation with its numbers; sending.

A draft has no number and may change or go. ``validate`` turns drafts into invoices in one transaction: it
copies each client's identity, sets the issue and due dates, takes one block of numbers per series
(``numbering.take``), posts the entries in the billing entity's books and requests the Factur-X files; a
validated invoice is never deleted (a credit note cancels it, in full or in part).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio
from litestar.exceptions import NotFoundException
from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.recorder import record
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing import invoice_files, numbering
from portal.billing.amounts import line_total, totals
from portal.billing.documents import documents_of
from portal.billing.facturx import render, ubl_xml
from portal.billing.fee_models import (
    ZERO,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    Unit,
)
from portal.billing.fee_settings import settings_of
from portal.billing.models import BillingClient
from portal.billing.payments import PaymentService
from portal.billing.policy import client_not_hidden
from portal.billing.posting import post_invoices
from portal.clients.models import Dossier
from portal.clients.policy import not_hidden
from portal.db.paging import Page, Paging, Sort, paginate
from portal.firm.services import billing_entity_id
from portal.i18n import N_, gettext
from portal.settings import FIRM_TIMEZONE, Settings

READ = Permission.BILLING_FEES_READ
MANAGE = Permission.BILLING_FEES_MANAGE

INVOICE_SORTS: dict[str, Any] = {
    "numero": Invoice.number,
    "client": Invoice.client_name,
    "date": Invoice.issue_date,
    "echeance": Invoice.due_date,
    "montant": Invoice.total_ttc,
}
INVOICE_ORDER = Sort("date", descending=True)


class FeeError(ValueError):
    """A change of the firm's fees refused; ``message`` is a French msgid (``params`` fill it), ``field`` the
    form field it belongs beside, if any."""

    def __init__(self, message: str, field: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.params = params


@dataclass(frozen=True, slots=True)
class LineValues:
    """A line as typed or as a mission bills it."""

    label: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    unit: Unit = Unit.FLAT
    revenue_account: str = "706000"
    service_id: uuid.UUID | None = None
    mission_id: uuid.UUID | None = None
    period_start: dt.date | None = None

    @property
    def total_ht(self) -> Decimal:
        return line_total(self.quantity, self.unit_price)


@dataclass(frozen=True, slots=True)
class InvoiceFilters:
    """Factures' filters: ``statut`` (brouillons, validees, impayees, en-retard, payees), ``q`` a client's name."""

    status: str = ""
    query: str = ""
    kind: str = ""
    run_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None


@dataclass
class Validated:
    invoices: list[Invoice] = field(default_factory=list)

    @property
    def numbers(self) -> list[str]:
        return [invoice.number or "" for invoice in self.invoices]


def today() -> dt.date:
    """The firm's day (Paris): invoices are dated in France."""
    return dt.datetime.now(FIRM_TIMEZONE).date()


def apply_totals(invoice: Invoice, lines: Iterable[InvoiceLine]) -> None:
    figures = totals(lines)
    invoice.total_ht, invoice.total_vat, invoice.total_ttc = figures.ht, figures.vat, figures.ttc


def _line(values: LineValues, position: int) -> InvoiceLine:
    return InvoiceLine(
        position=position,
        label=values.label,
        unit=values.unit,
        quantity=values.quantity,
        unit_price=values.unit_price,
        vat_rate=values.vat_rate,
        revenue_account=values.revenue_account,
        service_id=values.service_id,
        mission_id=values.mission_id,
        period_start=values.period_start,
        total_ht=values.total_ht,
    )


def _validated(  # noqa: PLR0917 - one invoice's validation, written once for every draft of a batch
    draft: Invoice,
    series: str,
    sequence: int,
    stamp: tuple[dt.date, dt.datetime, uuid.UUID, int],
    client: BillingClient,
    origin: Dossier | None,
) -> None:
    """The draft as a validated invoice: its number, dates and the client as invoiced."""
    day, now, person, terms_days = stamp
    draft.series, draft.sequence, draft.number = series, sequence, numbering.number_of(series, sequence)
    draft.status = InvoiceStatus.VALIDATED
    draft.issue_date, draft.due_date = day, day + dt.timedelta(days=terms_days)
    draft.validated_at, draft.validated_by_id = now, person
    draft.client_name, draft.client_siren, draft.client_vat_number = client.name, client.siren, client.vat_number
    draft.client_email = client.billing_email
    if origin is not None:
        draft.client_address = origin.address or ""
        draft.client_postal_code = origin.postal_code or ""
        draft.client_city = origin.city or ""


class InvoiceService:
    """The invoices of the billing entity, as a person may read or manage them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def entity_id(self) -> uuid.UUID:
        entity: uuid.UUID | None = (await self.session.execute(billing_entity_id())).scalar()
        if entity is None:
            raise FeeError(N_("Aucune entité facturante n'est liée au cabinet."))
        return entity

    # --- reading ----------------------------------------------------------------------------------------------

    def visible(self, principal: Principal, permission: Permission = READ) -> Select[Any]:
        return restrict(select(Invoice), principal, permission, Invoice)

    async def get(self, principal: Principal, invoice_id: uuid.UUID, permission: Permission = READ) -> Invoice:
        """The invoice, if the person may read it (or manage it); 404 otherwise."""
        found: Invoice | None = (
            await self.session.execute(self.visible(principal, permission).where(Invoice.id == invoice_id))
        ).scalar_one_or_none()
        if found is None:
            raise NotFoundException
        return found

    def _filtered(self, principal: Principal, filters: InvoiceFilters) -> Select[Any]:
        statement = self.visible(principal)
        status = filters.status
        if status == "brouillons":
            statement = statement.where(Invoice.status == InvoiceStatus.DRAFT)
        elif status:
            statement = statement.where(Invoice.status == InvoiceStatus.VALIDATED)
        if status in {"impayees", "en-retard"}:
            statement = statement.where(Invoice.kind == InvoiceKind.INVOICE, Invoice.settled < Invoice.total_ttc)
        if status == "en-retard":
            statement = statement.where(Invoice.due_date < today())
        if status == "payees":
            statement = statement.where(Invoice.kind == InvoiceKind.INVOICE, Invoice.settled >= Invoice.total_ttc)
        if filters.kind in {kind.value for kind in InvoiceKind}:
            statement = statement.where(Invoice.kind == InvoiceKind(filters.kind))
        if filters.run_id is not None:
            statement = statement.where(Invoice.run_id == filters.run_id)
        if filters.client_id is not None:
            statement = statement.where(Invoice.client_id == filters.client_id)
        if filters.query:
            pattern = f"%{filters.query.lower()}%"
            names = select(BillingClient.id).where(func.lower(BillingClient.name).like(pattern))
            statement = statement.where(
                or_(Invoice.client_id.in_(names), func.lower(func.coalesce(Invoice.number, "")).like(pattern))
            )
        return statement

    async def page(self, principal: Principal, filters: InvoiceFilters, paging: Paging, sort: Sort) -> Page[Invoice]:
        column = INVOICE_SORTS[sort.key]
        statement = self._filtered(principal, filters).order_by(
            sort.order(column), Invoice.created_at.desc(), Invoice.id
        )
        return await paginate(self.session, statement, paging)

    async def clients_named(self, client_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, BillingClient]:
        wanted = set(client_ids)
        if not wanted:
            return {}
        rows = await self.session.execute(select(BillingClient).where(BillingClient.id.in_(wanted)))
        return {client.id: client for client in rows.scalars()}

    async def of_client(
        self, principal: Principal, client_id: uuid.UUID, limit: int = 10
    ) -> tuple[list[Invoice], Decimal]:
        """The client's latest invoices the person may read, and what the client still owes (validated invoices)."""
        statement = self.visible(principal).where(Invoice.client_id == client_id)
        latest = statement.order_by(Invoice.issue_date.desc(), Invoice.created_at.desc()).limit(limit)
        due = restrict(
            select(func.coalesce(func.sum(Invoice.total_ttc - Invoice.settled), 0)).where(
                Invoice.client_id == client_id,
                Invoice.status == InvoiceStatus.VALIDATED,
                Invoice.kind == InvoiceKind.INVOICE,
            ),
            principal,
            READ,
            Invoice,
        )
        return list((await self.session.execute(latest)).scalars()), Decimal(
            (await self.session.execute(due)).scalar_one()
        )

    async def settlements_of(self, invoice: Invoice) -> list[tuple[dt.date, Decimal, str]]:
        """What settled the invoice: each payment (its date, the part allocated, its method and reference) and each
        credit note applied (its date, amount and number), oldest first."""
        rows = await self.session.execute(
            select(PaymentAllocation, Payment, Invoice)
            .outerjoin(Payment, Payment.id == PaymentAllocation.payment_id)
            .outerjoin(Invoice, Invoice.id == PaymentAllocation.credit_note_id)
            .where(PaymentAllocation.invoice_id == invoice.id)
            .order_by(PaymentAllocation.created_at)
        )
        settled: list[tuple[dt.date, Decimal, str]] = []
        for allocation, paid, credit in rows:
            payment: Payment | None = paid
            note: Invoice | None = credit
            if payment is not None:
                what = " · ".join(part for part in (gettext(payment.method.label), payment.reference) if part)
                settled.append((payment.received_on, allocation.amount, what))
            elif note is not None:
                settled.append(
                    (note.issue_date, allocation.amount, gettext("Avoir %(number)s") % {"number": note.number})
                )
        return settled

    async def credit_notes_of(self, invoice: Invoice) -> list[Invoice]:
        rows = await self.session.execute(
            select(Invoice).where(Invoice.credited_invoice_id == invoice.id).order_by(Invoice.created_at)
        )
        return list(rows.scalars())

    async def credited(self, invoice_id: uuid.UUID) -> Decimal:
        """What validated credit notes already cancel of the invoice."""
        total = await self.session.execute(
            select(func.coalesce(func.sum(Invoice.total_ttc), 0)).where(
                Invoice.credited_invoice_id == invoice_id, Invoice.status == InvoiceStatus.VALIDATED
            )
        )
        return Decimal(total.scalar_one())

    # --- drafts -----------------------------------------------------------------------------------------------

    async def _client(self, principal: Principal, client_id: uuid.UUID | None) -> BillingClient:
        """A client of the billing base the person may bill: never one tied to a dossier hidden from them."""
        if client_id is None:
            raise FeeError(N_("Choisissez le client."), "client")
        entity = await self.entity_id()
        statement = select(BillingClient).where(
            BillingClient.id == client_id,
            BillingClient.billing_entity_id == entity,
            client_not_hidden(principal, BillingClient.id),
            not_hidden(principal, BillingClient.origin_dossier_id),
        )
        found: BillingClient | None = (await self.session.execute(statement)).scalar_one_or_none()
        if found is None:
            raise FeeError(N_("Choisissez le client."), "client")
        return found

    async def create_draft(
        self,
        principal: Principal,
        client_id: uuid.UUID | None,
        lines: Sequence[LineValues],
        *,
        note: str = "",
        purchase_order: str = "",
    ) -> Invoice:
        """A one-off invoice (per act) for a client, as a draft."""
        entity = await self.entity_id()
        if not principal.can(MANAGE, entity):
            raise NotFoundException
        client = await self._client(principal, client_id)
        if not lines:
            raise FeeError(N_("Ajoutez au moins une ligne."), "lignes")
        day = today()
        invoice = Invoice(
            entity_id=entity,
            client_id=client.id,
            kind=InvoiceKind.INVOICE,
            status=InvoiceStatus.DRAFT,
            issue_date=day,
            due_date=day,
            note=note,
            purchase_order=purchase_order,
            client_name=client.name,
            client_siren=client.siren,
            lines=[_line(values, position) for position, values in enumerate(lines)],
        )
        apply_totals(invoice, invoice.lines)
        self.session.add(invoice)
        await self.session.flush()
        record(self.session, "invoice.draft_created", object_type="billing_invoice", object_id=str(invoice.id),
               dossier_id=client.origin_dossier_id, client=client.name, total_ttc=str(invoice.total_ttc))  # fmt: skip
        return invoice

    async def draft(self, principal: Principal, invoice_id: uuid.UUID) -> Invoice:
        invoice = await self.get(principal, invoice_id, MANAGE)
        if invoice.status is not InvoiceStatus.DRAFT:
            raise FeeError(N_("Cette facture est validée : elle ne change plus. Faites un avoir pour l'annuler."))
        return invoice

    async def replace_lines(
        self,
        principal: Principal,
        invoice_id: uuid.UUID,
        lines: Sequence[LineValues],
        *,
        note: str = "",
        purchase_order: str = "",
    ) -> Invoice:
        """A draft's lines, note and order number as the form now says (its mission lines keep their mission)."""
        invoice = await self.draft(principal, invoice_id)
        if not lines:
            raise FeeError(N_("Ajoutez au moins une ligne."), "lignes")
        if invoice.kind is InvoiceKind.CREDIT_NOTE and invoice.credited_invoice_id is not None:
            await self._check_credit(invoice.credited_invoice_id, totals(lines).ttc)
        await self.session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
        await self.session.flush()
        self.session.expire(invoice, ["lines"])
        new_lines = [_line(values, position) for position, values in enumerate(lines)]
        for line in new_lines:
            line.invoice_id = invoice.id
            self.session.add(line)
        invoice.note, invoice.purchase_order = note, purchase_order
        apply_totals(invoice, new_lines)
        await self.session.flush()
        await self.session.refresh(invoice, ["lines"])
        return invoice

    async def remove_drafts(self, principal: Principal, invoice_ids: Sequence[uuid.UUID]) -> int:
        """Remove drafts (their lines go with them; their missions may be billed again). Validated invoices stay."""
        entity = await self.entity_id()
        if not principal.can(MANAGE, entity):
            raise NotFoundException
        visible = self.visible(principal, MANAGE).where(
            Invoice.id.in_(invoice_ids), Invoice.status == InvoiceStatus.DRAFT
        )
        drafts = list((await self.session.execute(visible)).scalars())
        for invoice in drafts:
            await self.session.delete(invoice)
        await self.session.flush()
        if drafts:
            record(self.session, "invoice.drafts_removed", object_type="billing_invoice", object_id=None,
                   count=len(drafts), total_ttc=str(sum((draft.total_ttc for draft in drafts), ZERO)))  # fmt: skip
        return len(drafts)

    async def group_drafts(self, principal: Principal, invoice_ids: Sequence[uuid.UUID]) -> Invoice:
        """One draft holding the lines of several drafts of the same client (the oldest kept)."""
        visible = self.visible(principal, MANAGE).where(
            Invoice.id.in_(invoice_ids), Invoice.status == InvoiceStatus.DRAFT, Invoice.kind == InvoiceKind.INVOICE
        )
        drafts: list[Invoice] = sorted(
            (await self.session.execute(visible)).scalars(), key=lambda draft: (draft.created_at, draft.id)
        )
        if len(drafts) < 2:  # noqa: PLR2004 - grouping takes two drafts or more
            raise FeeError(N_("Cochez au moins deux brouillons du même client à regrouper."))
        if len({draft.client_id for draft in drafts}) > 1:
            raise FeeError(N_("Seuls des brouillons du même client se regroupent."))
        kept, others = drafts[0], drafts[1:]
        position = len(kept.lines)
        other_ids = [draft.id for draft in others]
        moved = list(
            (await self.session.execute(select(InvoiceLine).where(InvoiceLine.invoice_id.in_(other_ids)))).scalars()
        )
        for line in sorted(moved, key=lambda line: (line.invoice_id, line.position)):
            line.invoice_id, line.position = kept.id, position
            position += 1
        await self.session.flush()
        for draft in others:
            self.session.expire(draft, ["lines"])
            await self.session.delete(draft)
        await self.session.flush()
        await self.session.refresh(kept, ["lines"])
        apply_totals(kept, kept.lines)
        await self.session.flush()
        record(self.session, "invoice.drafts_grouped", object_type="billing_invoice", object_id=str(kept.id),
               client=kept.client_name, count=len(drafts))  # fmt: skip
        return kept

    # --- credit notes -----------------------------------------------------------------------------------------

    async def _check_credit(self, invoice_id: uuid.UUID, amount: Decimal) -> None:
        invoice = await self.session.get(Invoice, invoice_id)
        if invoice is None:
            raise NotFoundException
        left = invoice.total_ttc - invoice.settled
        if amount > left:
            raise FeeError(
                N_("L'avoir (%(amount)s) dépasse ce qui reste dû sur la facture %(number)s (%(left)s)."),
                "montant",
                amount=amount,
                number=invoice.number,
                left=left,
            )

    async def credit_note(
        self, principal: Principal, invoice_id: uuid.UUID, lines: Sequence[LineValues] | None = None
    ) -> Invoice:
        """A draft credit note cancelling the validated invoice: all of it (its lines), or ``lines``."""
        invoice = await self.get(principal, invoice_id, MANAGE)
        if invoice.status is not InvoiceStatus.VALIDATED or invoice.kind is not InvoiceKind.INVOICE:
            raise FeeError(N_("Un avoir annule une facture validée."))
        chosen = (
            list(lines)
            if lines is not None
            else [
                LineValues(
                    label=line.label,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    vat_rate=line.vat_rate,
                    unit=line.unit,
                    revenue_account=line.revenue_account,
                    service_id=line.service_id,
                )
                for line in invoice.lines
            ]
        )
        if not chosen:
            raise FeeError(N_("Ajoutez au moins une ligne."), "lignes")
        await self._check_credit(invoice.id, totals(chosen).ttc)
        day = today()
        note = Invoice(
            entity_id=invoice.entity_id,
            client_id=invoice.client_id,
            kind=InvoiceKind.CREDIT_NOTE,
            status=InvoiceStatus.DRAFT,
            credited_invoice_id=invoice.id,
            issue_date=day,
            due_date=day,
            client_name=invoice.client_name,
            client_siren=invoice.client_siren,
            note=invoice.note,
            lines=[_line(values, position) for position, values in enumerate(chosen)],
        )
        apply_totals(note, note.lines)
        self.session.add(note)
        await self.session.flush()
        record(self.session, "invoice.credit_note_drafted", object_type="billing_invoice", object_id=str(note.id),
               number=invoice.number, total_ttc=str(note.total_ttc))  # fmt: skip
        return note

    # --- validation -------------------------------------------------------------------------------------------

    async def validate(self, principal: Principal, invoice_ids: Sequence[uuid.UUID]) -> Validated:
        """Validate drafts: numbers, dates, the client's identity, the entries; all or nothing."""
        entity = await self.entity_id()
        if not principal.can(MANAGE, entity):
            raise NotFoundException
        drafts = await self._drafts_held(principal, invoice_ids)
        await self._check_drafts(drafts)
        settings = await settings_of(self.session, entity)
        clients = await self.clients_named(draft.client_id for draft in drafts)
        origins = await self._origins(clients.values())
        day = today()
        drafts.sort(key=lambda draft: (draft.kind.value, clients[draft.client_id].sort_name, draft.id))
        by_series: dict[str, list[Invoice]] = {}
        for draft in drafts:
            prefix = numbering.prefix_for(draft.kind, settings.invoice_prefix, settings.credit_note_prefix)
            by_series.setdefault(numbering.series_of(prefix, day), []).append(draft)
        stamp = (day, dt.datetime.now(dt.UTC), principal.user_id, settings.payment_terms_days)
        for series, group in by_series.items():
            first = await numbering.take(self.session, entity, series, len(group))
            for offset, draft in enumerate(group):
                client = clients[draft.client_id]
                origin = origins.get(client.origin_dossier_id) if client.origin_dossier_id else None
                _validated(draft, series, first + offset, stamp, client, origin)
        await self.session.flush()
        from portal.billing.tasks import render_invoices  # noqa: PLC0415 - the jobs read this module

        await post_invoices(self.session, [draft.id for draft in drafts])
        # A credit note settles the invoice it cancels as soon as it is validated: what it cancels is no longer due.
        payments = PaymentService(self.session)
        for draft in drafts:
            if draft.kind is InvoiceKind.CREDIT_NOTE:
                await payments.apply_credit_note(principal, entity, draft.id)
        await render_invoices.enqueue(self.session, entity_id=str(entity))
        for draft in drafts:
            record(self.session, "invoice.validated", object_type="billing_invoice", object_id=str(draft.id),
                   dossier_id=clients[draft.client_id].origin_dossier_id, number=draft.number,
                   client=draft.client_name, total_ttc=str(draft.total_ttc))  # fmt: skip
        return Validated(drafts)

    async def _check_drafts(self, drafts: Sequence[Invoice]) -> None:
        for draft in drafts:
            if not draft.lines or draft.total_ttc <= 0:
                raise FeeError(N_("Le brouillon de %(client)s n'a rien à facturer."), client=draft.client_name)
            if draft.credited_invoice_id is not None:
                await self._check_credit(draft.credited_invoice_id, draft.total_ttc)

    async def _drafts_held(self, principal: Principal, invoice_ids: Sequence[uuid.UUID]) -> list[Invoice]:
        """The drafts among ``invoice_ids`` the person manages, locked for the validating transaction."""
        statement = self.visible(principal, MANAGE).where(
            Invoice.id.in_(invoice_ids), Invoice.status == InvoiceStatus.DRAFT
        )
        if self.session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update(of=Invoice)
        drafts = list((await self.session.execute(statement)).scalars())
        if not drafts:
            raise FeeError(N_("Aucun brouillon à valider : ils l'ont peut-être déjà été."))
        return drafts

    async def _origins(self, clients: Iterable[BillingClient]) -> dict[uuid.UUID, Dossier]:
        wanted = {client.origin_dossier_id for client in clients if client.origin_dossier_id}
        if not wanted:
            return {}
        rows = await self.session.execute(select(Dossier).where(Dossier.id.in_(wanted)))
        return {dossier.id: dossier for dossier in rows.scalars()}

    async def request_sending(self, principal: Principal, invoice_id: uuid.UUID) -> Invoice:
        """Email the validated invoice to the client's billing contact (a job, through the outbox)."""
        from portal.billing.tasks import send_invoice  # noqa: PLC0415 - the jobs read this module

        invoice = await self.get(principal, invoice_id, MANAGE)
        if invoice.status is not InvoiceStatus.VALIDATED:
            raise FeeError(N_("Validez la facture avant de l'envoyer."))
        if not invoice.client_email:
            client = await self.session.get(BillingClient, invoice.client_id)
            if client is None or not client.billing_email:
                raise FeeError(N_("Le client n'a pas d'adresse e-mail de facturation : renseignez-la d'abord."))
            invoice.client_email = client.billing_email
        await send_invoice.options(created_by_id=principal.user_id).enqueue(self.session, invoice_id=str(invoice.id))
        record(self.session, "invoice.send_requested", object_type="billing_invoice", object_id=str(invoice.id),
               number=invoice.number, to=invoice.client_email)  # fmt: skip
        return invoice

    async def pdf(self, settings: Settings, invoice: Invoice, *, keep: bool = True) -> bytes:
        """The invoice's Factur-X PDF: its stored file, or made now (and kept, unless the session only reads)."""
        if invoice.file_name:
            return await anyio.to_thread.run_sync(invoice_files.read, settings, invoice.file_name)
        documents = await documents_of(self.session, [invoice.id])
        content: bytes = (await anyio.to_thread.run_sync(render, documents, settings))[0]
        if not keep:
            return content
        name = await anyio.to_thread.run_sync(invoice_files.store, settings, content)
        kept = await self.session.execute(
            update(Invoice)
            .where(Invoice.id == invoice.id, Invoice.file_name.is_(None))
            .values(file_name=name)
            .execution_options(synchronize_session=False)
        )
        if not kept.rowcount:  # type: ignore[attr-defined]
            invoice_files.discard(settings, name)
        return content

    async def ubl(self, invoice: Invoice) -> bytes:
        """The invoice in UBL 2.1 (EN 16931)."""
        return ubl_xml((await documents_of(self.session, [invoice.id]))[0])

    async def mark_sent(self, invoice_id: uuid.UUID) -> bool:
        """Once: the first sending sets ``sent_at``."""
        done = await self.session.execute(
            update(Invoice)
            .where(Invoice.id == invoice_id, Invoice.sent_at.is_(None))
            .values(sent_at=dt.datetime.now(dt.UTC))
            .execution_options(synchronize_session=False)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]
