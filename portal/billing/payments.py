"""Encaissements: money received from a client, spread over its open invoices; credit notes applied.

A payment is allocated to chosen invoices (chosen amounts) or, without a choice, to the client's open invoices
oldest due first; what is left is the client's credit (``Payment.unallocated``), which can later settle another
invoice. A validated credit note settles the invoice it cancels (a ``PaymentAllocation`` naming the credit note).

``Invoice.settled`` only ever grows by one conditional ``UPDATE`` per allocation that adds the amount only while
the invoice's balance covers it (``settled + amount <= total_ttc``), and sets ``paid_at`` in the same statement
when it reaches ``total_ttc``: two payments recorded at once can never settle more than the invoice. A refused
update (someone else settled it meanwhile) refuses the whole payment: every write happens in a savepoint, rolled
back on any refusal, so nothing is half-written. Each payment is posted in journal BQ (``posting.post_payment``).

Amounts are compared with a tolerance of a tenth of a cent in SQL: values are whole cents, so the result is
exact on PostgreSQL (``numeric``) and immune to SQLite's binary floating point.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from sqlalchemy import and_, case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.audit.recorder import record
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing.fee_models import (
    ZERO,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    PaymentMethod,
)
from portal.billing.models import BillingClient
from portal.billing.policy import client_fees
from portal.billing.posting import post_payment
from portal.db.paging import FIRST_PAGE, Page, Paging, paginate
from portal.i18n import N_, current_babel_locale, gettext
from portal.settings import FIRM_TIMEZONE

TOLERANCE = Decimal("0.001")  # under a cent: see the module's docstring
AMOUNT_NOT_POSITIVE = N_("Saisissez un montant supérieur à zéro.")
DATE_IN_FUTURE = N_("La date d'encaissement ne peut pas être dans le futur.")
NO_CLIENT = N_("Choisissez le client qui a payé.")
NOT_THIS_CLIENT = N_("La facture %(invoice)s n'est pas une facture de ce client.")
NOT_OPEN = N_("La facture %(invoice)s n'a plus de solde dû.")
OVER_BALANCE = N_("%(amount)s dépasse le solde dû de la facture %(invoice)s (%(balance)s).")
OVER_AMOUNT = N_("La somme répartie (%(total)s) dépasse le montant encaissé (%(amount)s).")
SETTLED_MEANWHILE = N_(
    "La facture %(invoice)s a été réglée entre-temps : rien n'a été enregistré, vérifiez son solde dû."
)
NO_CREDIT = N_("Ce client n'a pas d'avoir ni d'avance à imputer.")
NOT_A_CREDIT_NOTE = N_("Seul un avoir validé peut être imputé sur la facture qu'il annule.")
CREDIT_NOTE_USED = N_("Cet avoir est déjà entièrement imputé.")


class PaymentError(ValueError):
    """A payment refused: ``message`` is a French msgid (``params`` fill it), ``field`` the form field it is about."""

    def __init__(self, message: str, field: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.params = params

    def text(self) -> str:
        return gettext(self.message) % {key: _shown(value) for key, value in self.params.items()}


def _shown(value: Any) -> Any:
    if isinstance(value, Decimal):
        return euros(value)
    return value


def euros(value: Decimal) -> str:
    """``1 234,50 €``, in the reader's language."""
    return format_currency(value, "EUR", locale=current_babel_locale())


@dataclass(frozen=True, slots=True)
class Allocation:
    """``amount`` of a payment settling invoice ``invoice_id``."""

    invoice_id: uuid.UUID
    amount: Decimal


def _fees_of_client(principal: Principal) -> Any:
    """The client's fees are the person's to read (entity-wide, or through one of the client's dossiers)."""
    return client_fees(principal, Permission.BILLING_FEES_READ, BillingClient.billing_entity_id, BillingClient.id)


def today() -> dt.date:
    return dt.datetime.now(FIRM_TIMEZONE).date()


def open_balance() -> Any:
    """An invoice still has something due (SQL)."""
    return Invoice.total_ttc - Invoice.settled > TOLERANCE


def _settle(invoice_id: uuid.UUID, amount: Decimal, on: dt.date) -> Any:
    """Add ``amount`` to the invoice's settled amount only while its balance covers it; ``paid_at`` once settled."""
    reaches = Invoice.settled + amount >= Invoice.total_ttc - TOLERANCE
    return (
        update(Invoice)
        .where(
            Invoice.id == invoice_id,
            Invoice.status == InvoiceStatus.VALIDATED,
            Invoice.settled + amount <= Invoice.total_ttc + TOLERANCE,
        )
        .values(
            settled=Invoice.settled + amount,
            paid_at=case((reaches, literal(on)), else_=Invoice.paid_at),
            updated_at=dt.datetime.now(dt.UTC),
        )
        .execution_options(synchronize_session=False)
    )


def _wanted(allocations: Sequence[Allocation], amount: Decimal) -> dict[uuid.UUID, Decimal]:
    """The amounts typed per invoice (blank or zero: none), refused when negative or above the payment."""
    wanted: dict[uuid.UUID, Decimal] = {}
    for part in allocations:
        if part.amount < 0:
            raise PaymentError(AMOUNT_NOT_POSITIVE, "repartition")
        if part.amount > 0:
            wanted[part.invoice_id] = wanted.get(part.invoice_id, ZERO) + part.amount
    total = sum(wanted.values(), ZERO)
    if total > amount:
        raise PaymentError(OVER_AMOUNT, "repartition", total=total, amount=amount)
    return wanted


def _check_allocation(invoice: Invoice, client_id: uuid.UUID, part: Decimal) -> None:
    number = invoice.number or ""
    if invoice.client_id != client_id:
        raise PaymentError(NOT_THIS_CLIENT, "repartition", invoice=number)
    if invoice.status is not InvoiceStatus.VALIDATED or invoice.kind is not InvoiceKind.INVOICE:
        raise PaymentError(NOT_OPEN, "repartition", invoice=number)
    if invoice.balance_due <= 0:
        raise PaymentError(NOT_OPEN, "repartition", invoice=number)
    if part > invoice.balance_due:
        raise PaymentError(OVER_BALANCE, "repartition", amount=part, invoice=number, balance=invoice.balance_due)


class PaymentService:
    """Recording payments and applying credit, for a person holding BILLING_FEES_MANAGE on the billing entity."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- reading ------------------------------------------------------------------------------------------

    def _payments(self, principal: Principal, entity_id: uuid.UUID) -> Any:
        return restrict(select(Payment), principal, Permission.BILLING_FEES_READ, Payment).where(
            Payment.entity_id == entity_id
        )

    async def page(self, principal: Principal, entity_id: uuid.UUID, paging: Paging = FIRST_PAGE) -> Page[Payment]:
        """The payments the person may read, latest first."""
        statement = self._payments(principal, entity_id).order_by(
            Payment.received_on.desc(), Payment.created_at.desc(), Payment.id
        )
        return await paginate(self.session, statement, paging)

    async def clients(
        self, principal: Principal, entity_id: uuid.UUID, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """The names of these clients (those the person may see)."""
        if not ids:
            return {}
        statement = select(BillingClient.id, BillingClient.name).where(
            BillingClient.billing_entity_id == entity_id, BillingClient.id.in_(set(ids)), _fees_of_client(principal)
        )
        return {row[0]: row[1] for row in await self.session.execute(statement)}

    async def payable_clients(self, principal: Principal, entity_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
        """The clients with an invoice due or a credit, by name: those a payment is most likely from."""
        invoices = restrict(select(Invoice.client_id), principal, Permission.BILLING_FEES_READ, Invoice).where(
            Invoice.entity_id == entity_id, Invoice.status == InvoiceStatus.VALIDATED,
            Invoice.kind == InvoiceKind.INVOICE, open_balance(),
        )  # fmt: skip
        advances = (
            self._payments(principal, entity_id)
            .with_only_columns(Payment.client_id)
            .where(Payment.unallocated > TOLERANCE)
        )
        statement = (
            select(BillingClient.id, BillingClient.name)
            .where(BillingClient.id.in_(invoices.union(advances).subquery().select()))
            .order_by(BillingClient.sort_name, BillingClient.id)
        )
        return [(key, name) for key, name in await self.session.execute(statement)]

    async def client(self, principal: Principal, entity_id: uuid.UUID, client_id: uuid.UUID | None) -> BillingClient:
        """A client of the entity whose fees the person may read; 404 otherwise."""
        if client_id is None:
            raise NotFoundException
        statement = select(BillingClient).where(
            BillingClient.id == client_id, BillingClient.billing_entity_id == entity_id, _fees_of_client(principal)
        )
        found: BillingClient | None = (await self.session.execute(statement)).scalar_one_or_none()
        if found is None:
            raise NotFoundException
        return found

    async def open_invoices(self, principal: Principal, entity_id: uuid.UUID, client_id: uuid.UUID) -> list[Invoice]:
        """The client's validated invoices with a balance due, oldest due first."""
        statement = (
            restrict(select(Invoice), principal, Permission.BILLING_FEES_READ, Invoice)
            .where(
                Invoice.entity_id == entity_id,
                Invoice.client_id == client_id,
                Invoice.status == InvoiceStatus.VALIDATED,
                Invoice.kind == InvoiceKind.INVOICE,
                open_balance(),
            )
            .order_by(Invoice.due_date, Invoice.issue_date, Invoice.number)
        )
        return list((await self.session.execute(statement)).scalars())

    async def credit(self, principal: Principal, entity_id: uuid.UUID, client_id: uuid.UUID) -> Decimal:
        """The client's credit: what its payments left unallocated."""
        statement = (
            self._payments(principal, entity_id)
            .with_only_columns(func.coalesce(func.sum(Payment.unallocated), 0))
            .where(Payment.client_id == client_id)
        )
        return Decimal((await self.session.execute(statement)).scalar_one()).quantize(Decimal("0.01"))

    async def invoice_numbers(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not ids:
            return {}
        rows = await self.session.execute(select(Invoice.id, Invoice.number).where(Invoice.id.in_(set(ids))))
        return {key: number or "" for key, number in rows}

    # --- writing ------------------------------------------------------------------------------------------

    def _check_manager(self, principal: Principal, entity_id: uuid.UUID) -> None:
        if not principal.can(Permission.BILLING_FEES_MANAGE, entity_id):
            raise PermissionDeniedException

    async def record(
        self,
        principal: Principal,
        entity_id: uuid.UUID,
        *,
        client_id: uuid.UUID | None,
        received_on: dt.date,
        amount: Decimal,
        method: PaymentMethod = PaymentMethod.TRANSFER,
        reference: str = "",
        allocations: Sequence[Allocation] | None = None,
        bank_line_id: uuid.UUID | None = None,
    ) -> Payment:
        """Record a payment of ``client_id``, allocated as ``allocations`` say (None: oldest due first); the rest is
        the client's credit. ``PaymentError`` (nothing written) when the input or the invoices' balances refuse it.
        """
        self._check_manager(principal, entity_id)
        if client_id is None:
            raise PaymentError(NO_CLIENT, "client")
        client = await self.client(principal, entity_id, client_id)
        if amount <= 0:
            raise PaymentError(AMOUNT_NOT_POSITIVE, "montant")
        if received_on > today():
            raise PaymentError(DATE_IN_FUTURE, "date")
        plan = await self._plan(principal, entity_id, client.id, amount, allocations)
        allocated = sum((part for _invoice, part in plan), ZERO)
        async with self.session.begin_nested():
            payment = Payment(
                entity_id=entity_id, client_id=client.id, received_on=received_on, amount=amount,
                unallocated=amount - allocated, method=method, reference=reference.strip()[:140],
                bank_line_id=bank_line_id, created_by_id=principal.user_id,
            )  # fmt: skip
            self.session.add(payment)
            await self.session.flush()
            numbers = await self._allocate(plan, received_on, payment_id=payment.id)
            await self.session.refresh(payment, ["allocations"])
            await post_payment(self.session, payment)
            record(
                self.session, "billing_payment.recorded", object_type="billing_payment", object_id=str(payment.id),
                dossier_id=client.origin_dossier_id, client=client.name, amount=amount, received_on=received_on,
                invoices=numbers, credit=amount - allocated,
            )  # fmt: skip
        return payment

    async def _plan(
        self,
        principal: Principal,
        entity_id: uuid.UUID,
        client_id: uuid.UUID,
        amount: Decimal,
        allocations: Sequence[Allocation] | None,
    ) -> list[tuple[Invoice, Decimal]]:
        """Which invoice gets how much: checked against the balances read now (the updates check them again)."""
        if allocations is None:
            plan = []
            left = amount
            for invoice in await self.open_invoices(principal, entity_id, client_id):
                if left <= 0:
                    break
                part = min(left, invoice.balance_due)
                plan.append((invoice, part))
                left -= part
            return plan
        wanted = _wanted(allocations, amount)
        if not wanted:
            return []
        visible = restrict(select(Invoice), principal, Permission.BILLING_FEES_READ, Invoice).where(
            Invoice.id.in_(list(wanted)), Invoice.entity_id == entity_id
        )
        invoices = {invoice.id: invoice for invoice in (await self.session.execute(visible)).scalars()}
        plan = []
        for invoice_id, part in wanted.items():
            found = invoices.get(invoice_id)
            if found is None:
                raise NotFoundException
            _check_allocation(found, client_id, part)
            plan.append((found, part))
        return plan

    async def _allocate(
        self,
        plan: Sequence[tuple[Invoice, Decimal]],
        on: dt.date,
        *,
        payment_id: uuid.UUID | None = None,
        credit_note_id: uuid.UUID | None = None,
    ) -> list[str]:
        """Write the allocations and settle each invoice by its conditional update (inside the caller's savepoint)."""
        numbers = []
        for invoice, part in plan:
            result = await self.session.execute(_settle(invoice.id, part, on))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise PaymentError(SETTLED_MEANWHILE, "repartition", invoice=invoice.number or "")
            self.session.add(PaymentAllocation(payment_id=payment_id, credit_note_id=credit_note_id,
                                               invoice_id=invoice.id, amount=part))  # fmt: skip
            numbers.append(invoice.number or "")
        await self.session.flush()
        for invoice, _part in plan:
            await self.session.refresh(invoice, ["settled", "paid_at", "updated_at"])
        return numbers

    async def apply_credit(
        self, principal: Principal, entity_id: uuid.UUID, invoice_id: uuid.UUID, amount: Decimal | None = None
    ) -> Decimal:
        """Settle the invoice from its client's credit (its payments' unallocated amounts, oldest first), by
        ``amount`` or as much as both allow; the amount applied."""
        self._check_manager(principal, entity_id)
        invoice = await self._invoice(principal, entity_id, invoice_id)
        if invoice.kind is not InvoiceKind.INVOICE or invoice.balance_due <= 0:
            raise PaymentError(NOT_OPEN, "facture", invoice=invoice.number or "")
        payments = list(
            (
                await self.session.execute(
                    self._payments(principal, entity_id)
                    .where(Payment.client_id == invoice.client_id, Payment.unallocated > TOLERANCE)
                    .order_by(Payment.received_on, Payment.created_at)
                )
            ).scalars()
        )
        available = sum((payment.unallocated for payment in payments), ZERO)
        if available <= 0:
            raise PaymentError(NO_CREDIT, "facture")
        wanted = min(available, invoice.balance_due) if amount is None else amount
        if wanted <= 0:
            raise PaymentError(AMOUNT_NOT_POSITIVE, "montant")
        if wanted > invoice.balance_due:
            raise PaymentError(OVER_BALANCE, "montant", amount=wanted, invoice=invoice.number or "",
                                 balance=invoice.balance_due)  # fmt: skip
        if wanted > available:
            raise PaymentError(NO_CREDIT, "montant")
        left = wanted
        async with self.session.begin_nested():
            for payment in payments:
                if left <= 0:
                    break
                part = min(left, payment.unallocated)
                taken = await self.session.execute(
                    update(Payment)
                    .where(Payment.id == payment.id, Payment.unallocated >= part - TOLERANCE)
                    .values(unallocated=Payment.unallocated - part, updated_at=dt.datetime.now(dt.UTC))
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    raise PaymentError(SETTLED_MEANWHILE, "facture", invoice=invoice.number or "")
                await self._allocate([(invoice, part)], today(), payment_id=payment.id)
                await self.session.refresh(payment, ["unallocated"])
                left -= part
            record(
                self.session, "billing_payment.credit_applied", object_type="billing_invoice",
                object_id=str(invoice.id), dossier_id=await self._dossier_of(invoice.client_id),
                invoice=invoice.number, amount=wanted,
            )  # fmt: skip
        return wanted

    async def apply_credit_note(self, principal: Principal, entity_id: uuid.UUID, credit_note_id: uuid.UUID) -> Decimal:
        """Settle the invoice a validated credit note cancels by what is left of the credit note (at most the
        invoice's balance); the amount applied. The credit note's own ``settled`` records what of it was used."""
        self._check_manager(principal, entity_id)
        note = await self._invoice(principal, entity_id, credit_note_id)
        if note.kind is not InvoiceKind.CREDIT_NOTE or note.credited_invoice_id is None:
            raise PaymentError(NOT_A_CREDIT_NOTE, "avoir")
        invoice = await self._invoice(principal, entity_id, note.credited_invoice_id)
        if note.balance_due <= 0:
            raise PaymentError(CREDIT_NOTE_USED, "avoir")
        if invoice.balance_due <= 0:
            raise PaymentError(NOT_OPEN, "avoir", invoice=invoice.number or "")
        part = min(note.balance_due, invoice.balance_due)
        async with self.session.begin_nested():
            used = await self.session.execute(_settle(note.id, part, note.issue_date))
            if used.rowcount != 1:  # type: ignore[attr-defined]
                raise PaymentError(CREDIT_NOTE_USED, "avoir")
            await self._allocate([(invoice, part)], note.issue_date, credit_note_id=note.id)
            await self.session.refresh(note, ["settled", "paid_at"])
            record(
                self.session, "billing_payment.credit_note_applied", object_type="billing_invoice",
                object_id=str(invoice.id), dossier_id=await self._dossier_of(invoice.client_id),
                invoice=invoice.number, credit_note=note.number, amount=part,
            )  # fmt: skip
        return part

    async def _invoice(self, principal: Principal, entity_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice:
        statement = restrict(select(Invoice), principal, Permission.BILLING_FEES_READ, Invoice).where(
            and_(Invoice.id == invoice_id, Invoice.entity_id == entity_id, Invoice.status == InvoiceStatus.VALIDATED)
        )
        invoice: Invoice | None = (await self.session.execute(statement)).scalar_one_or_none()
        if invoice is None:
            raise NotFoundException
        return invoice

    async def _dossier_of(self, client_id: uuid.UUID) -> uuid.UUID | None:
        statement = select(BillingClient.origin_dossier_id).where(BillingClient.id == client_id)
        return (await self.session.execute(statement)).scalar_one_or_none()
