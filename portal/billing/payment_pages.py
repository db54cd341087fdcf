"""Facturation › Encaissements, Rapprochement bancaire, Relances and Balance âgée.

Lists read through ``restrict`` with BILLING_FEES_READ (partners, the Gestionnaire de facturation, a dossier's
Comptable for that dossier's client); recording, importing, confirming and applying need BILLING_FEES_MANAGE on the
billing entity. Refused input comes back on the form (422) with its French message, nothing saved.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template

from portal.auth.guards import principal_of, requires_somewhere
from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.billing.aging import BUCKET_LABELS, BUCKETS, AgingService
from portal.billing.bank import BankService, StatementError
from portal.billing.fee_models import BankLineStatus, PaymentMethod
from portal.billing.payments import Allocation, PaymentError, PaymentService, euros, today
from portal.billing.reminders import ReminderService, delays_of
from portal.billing.services import BillingEntityService
from portal.dashboard.amounts import NumberError, parse_number
from portal.db.paging import Paging
from portal.i18n import N_, NP_, _, ngettext, number
from portal.web import forms
from portal.web.deps import PAGING, provide
from portal.web.exports import csv_stream, reader_sessions

STATEMENT_MAX_BYTES = 5 * 1024 * 1024
NO_FILE = N_("Choisissez le relevé bancaire (CSV) à importer.")
TOO_LARGE = N_("Le relevé dépasse 5 Mo : exportez une période plus courte.")
BAD_DATE = N_("Date invalide : utilisez le format JJ/MM/AAAA.")
BAD_METHOD = N_("Choisissez un mode de paiement.")
IMPORTED = NP_(
    "Relevé importé : %(num)s ligne de crédit nouvelle", "Relevé importé : %(num)s lignes de crédit nouvelles"
)
KNOWN = NP_("%(num)s déjà importée", "%(num)s déjà importées")
STATUS_SLUGS = {"a-rapprocher": BankLineStatus.TO_MATCH, "rapprochees": BankLineStatus.MATCHED,
                "ignorees": BankLineStatus.IGNORED}  # fmt: skip


@dataclass
class PaymentForm:
    """« Enregistrer un encaissement »: the client, the payment, and how it is spread (``facture``/``part``
    sent once per open invoice, in the same order; all blank: oldest due first)."""

    client: str = forms.text(forms.CHOICE_MAX_LENGTH)
    date: str = forms.text(forms.DATE_MAX_LENGTH)
    montant: str = forms.text(30)
    mode: str = forms.text(forms.CHOICE_MAX_LENGTH)
    reference: str = forms.text(140)
    facture: list[str] = forms.texts(forms.CHOICE_MAX_LENGTH)
    part: list[str] = forms.texts(30)


@dataclass
class CreditForm:
    facture: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class StatementForm:
    """The statement's file comes as ``fichier``; no other field."""

    retour: str = forms.text(forms.CHOICE_MAX_LENGTH)


@dataclass
class MatchForm:
    facture: str = forms.text(60)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


async def _entity(request: Request[Any, Any, Any], billing: BillingEntityService) -> tuple[Principal, Any, Any]:
    principal = principal_of(request)
    entity_id, entity = await billing.entity(principal)
    return principal, entity_id, entity


def _manager(principal: Principal, entity_id: uuid.UUID | None) -> uuid.UUID:
    if entity_id is None or not principal.can(Permission.BILLING_FEES_MANAGE, entity_id):
        raise PermissionDeniedException
    return entity_id


def _reference_date(value: str) -> tuple[dt.date, str | None]:
    value = forms.query_text(value, forms.DATE_MAX_LENGTH).strip()
    if not value:
        return today(), None
    day = forms.parse_date(value)
    return (day, None) if day else (today(), BAD_DATE)


class PaymentsController(Controller):
    path = "/facturation"
    include_in_schema = False
    guards = (requires_somewhere(Permission.BILLING_FEES_READ),)
    dependencies: Mapping[str, Provide] = {
        "billing": provide(BillingEntityService),
        "payments": provide(PaymentService),
        "bank": provide(BankService),
    }

    # --- Encaissements ----------------------------------------------------------------------------------

    @get("/encaissements", name="billing:payments", dependencies=PAGING)
    async def payments_list(
        self,
        request: Request[Any, Any, Any],
        billing: NamedDependency[BillingEntityService],
        payments: NamedDependency[PaymentService],
        paging: NamedDependency[Paging],
    ) -> Template:
        principal, entity_id, entity = await _entity(request, billing)
        context: dict[str, Any] = {"entity": entity, "entity_id": entity_id, "result": None}
        if entity_id is not None:
            result = await payments.page(principal, entity_id, paging)
            context["result"] = result
            context["client_names"] = await payments.clients(
                principal, entity_id, [item.client_id for item in result.items]
            )
            numbers = [part.invoice_id for item in result.items for part in item.allocations]
            context["numbers"] = await payments.invoice_numbers(numbers)
            context["can_manage"] = principal.can(Permission.BILLING_FEES_MANAGE, entity_id)
        return Template(template_name="billing/payments.html", context=context)

    @get(
        "/encaissements/nouveau",
        name="billing:payment_new",
        guards=[requires_somewhere(Permission.BILLING_FEES_MANAGE)],
    )
    async def payment_form(
        self,
        request: Request[Any, Any, Any],
        billing: NamedDependency[BillingEntityService],
        payments: NamedDependency[PaymentService],
        client: FromQuery[str] = "",
    ) -> Template:
        """The form: the client first (those with an invoice due or a credit), then its open invoices."""
        principal, entity_id, entity = await _entity(request, billing)
        entity_id = _manager(principal, entity_id)
        form = PaymentForm(client=forms.query_text(client, forms.CHOICE_MAX_LENGTH), date=f"{today():%d/%m/%Y}",
                           mode=PaymentMethod.TRANSFER.value)  # fmt: skip
        context = await _form_context(principal, entity_id, payments, form, {})
        return Template(template_name="billing/payment_new.html", context={"entity": entity, **context})

    @post("/encaissements", name="billing:payment_record", guards=[requires_somewhere(Permission.BILLING_FEES_MANAGE)],
          media_type=MediaType.HTML)  # fmt: skip
    async def record(
        self,
        request: Request[Any, Any, Any],
        billing: NamedDependency[BillingEntityService],
        payments: NamedDependency[PaymentService],
        data: Annotated[PaymentForm, forms.POSTED],
    ) -> Template | Redirect:
        principal, entity_id, entity = await _entity(request, billing)
        entity_id = _manager(principal, entity_id)
        errors = forms.clip(data)
        received_on = forms.parse_date(data.date)
        if received_on is None:
            errors["date"] = BAD_DATE
        amount = _amount(data.montant, "montant", errors)
        try:
            method = PaymentMethod(data.mode)
        except ValueError:
            errors["mode"] = BAD_METHOD
            method = PaymentMethod.TRANSFER
        allocations = _allocations(data, errors)
        if not errors and received_on is not None and amount is not None:
            try:
                payment = await payments.record(
                    principal, entity_id, client_id=_uuid(data.client), received_on=received_on, amount=amount,
                    method=method, reference=data.reference, allocations=allocations,
                )  # fmt: skip
            except PaymentError as refused:
                errors[refused.field or "montant"] = refused.text()
            else:
                flash(request, _("Encaissement de %(amount)s enregistré.") % {"amount": euros(payment.amount)}
                      + (" " + _("Avance du client : %(credit)s.") % {"credit": euros(payment.unallocated)}
                         if payment.unallocated > 0 else ""), category="success")  # fmt: skip
                return Redirect("/facturation/encaissements", status_code=303)
        context = await _form_context(principal, entity_id, payments, data, errors)
        return Template(template_name="billing/payment_new.html", context={"entity": entity, **context},
                        status_code=422)  # fmt: skip

    @post(
        "/encaissements/avance",
        name="billing:apply_credit",
        guards=[requires_somewhere(Permission.BILLING_FEES_MANAGE)],
    )
    async def apply_credit(
        self,
        request: Request[Any, Any, Any],
        billing: NamedDependency[BillingEntityService],
        payments: NamedDependency[PaymentService],
        data: Annotated[CreditForm, forms.POSTED],
    ) -> Redirect:
        """« Imputer l'avance »: the client's credit settles one of its invoices."""
        principal, entity_id, _entity_dossier = await _entity(request, billing)
        entity_id = _manager(principal, entity_id)
        invoice_id = _uuid(data.facture)
        if invoice_id is None:
            raise NotFoundException
        try:
            applied = await payments.apply_credit(principal, entity_id, invoice_id)
        except PaymentError as refused:
            flash(request, refused.text(), category="error")
        else:
            flash(request, _("Avance imputée : %(amount)s.") % {"amount": euros(applied)}, category="success")
        return Redirect("/facturation/encaissements", status_code=303)

    # --- Rapprochement bancaire -------------------------------------------------------------------------

    @get("/rapprochement", name="billing:bank", dependencies=PAGING)
    async def bank_lines(
        self,
        request: Request[Any, Any, Any],
        billing: NamedDependency[BillingEntityService],
        bank: NamedDependency[BankService],
        paging: NamedDependency[Paging],
        statut: FromQuery[str] = "a-rapprocher",
    ) -> Template:
        principal, entity_id, entity = await _entity(request, billing)
        return await _bank_page(principal, entity_id, entity, bank, paging, statut)

    @post("/rapprochement", name="billing:bank_import", guards=[requires_somewhere(Permission.BILLING_FEES_MANAGE)],
          media_type=MediaType.HTML, dependencies={"posted": forms.upload(StatementForm)})  # fmt: skip
    async def import_statement(
        self,
        request: Request[Any, Any, Any],
        billing: NamedDependency[BillingEntityService],
        bank: NamedDependency[BankService],
        posted: NamedDependency[forms.Upload[StatementForm]],
    ) -> Template | Redirect:
        """Importer un relevé: its credit lines kept with their suggestion; a bad file refused, every line said."""
        principal, entity_id, entity = await _entity(request, billing)
        entity_id = _manager(principal, entity_id)
        upload = posted.file("fichier")
        problems: list[str] = []
        if upload is None:
            problems = [_(NO_FILE)]
        else:
            data = await upload.read(STATEMENT_MAX_BYTES + 1)
            if len(data) > STATEMENT_MAX_BYTES:
                problems = [_(TOO_LARGE)]
            else:
                try:
                    outcome = await bank.import_statement(principal, entity_id, data)
                except StatementError as refused:
                    problems = refused.messages()
        for received in posted.files.values():
            await received.close()
        if problems:
            return await _bank_page(principal, entity_id, entity, bank, Paging(), "a-rapprocher",
                                    errors={"fichier": problems}, status_code=422)  # fmt: skip
        message = ngettext(*IMPORTED, outcome.added) % {"num": number(outcome.added)}
        if outcome.credits > outcome.added:
            known = outcome.credits - outcome.added
            message += " · " + ngettext(*KNOWN, known) % {"num": number(known)}
        flash(request, message + ".", category="success")
        return Redirect("/facturation/rapprochement", status_code=303)

    @post("/rapprochement/{line_id:uuid}/confirmer", name="billing:bank_confirm",
          guards=[requires_somewhere(Permission.BILLING_FEES_MANAGE)])  # fmt: skip
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        billing: NamedDependency[BillingEntityService],
        bank: NamedDependency[BankService],
        line_id: FromPath[uuid.UUID],
        data: Annotated[MatchForm, forms.POSTED],
    ) -> Redirect:
        principal, entity_id, _entity_dossier = await _entity(request, billing)
        entity_id = _manager(principal, entity_id)
        forms.clip(data)
        try:
            payment = await bank.confirm(principal, entity_id, line_id, data.facture or None)
        except PaymentError as refused:
            flash(request, refused.text(), category="error")
        else:
            flash(request, _("Rapprochement confirmé : encaissement de %(amount)s enregistré.")
                  % {"amount": euros(payment.amount)}, category="success")  # fmt: skip
        return Redirect("/facturation/rapprochement", status_code=303)

    @post("/rapprochement/{line_id:uuid}/ignorer", name="billing:bank_ignore",
          guards=[requires_somewhere(Permission.BILLING_FEES_MANAGE)])  # fmt: skip
    async def ignore(
        self,
        request: Request[Any, Any, Any],
        billing: NamedDependency[BillingEntityService],
        bank: NamedDependency[BankService],
        line_id: FromPath[uuid.UUID],
    ) -> Redirect:
        principal, entity_id, _entity_dossier = await _entity(request, billing)
        entity_id = _manager(principal, entity_id)
        try:
            await bank.ignore(principal, entity_id, line_id)
        except PaymentError as refused:
            flash(request, refused.text(), category="error")
        else:
            flash(request, _("Ligne ignorée."), category="success")
        return Redirect("/facturation/rapprochement", status_code=303)

    # --- Relances ---------------------------------------------------------------------------------------

    @get("/relances", name="billing:reminders", dependencies=PAGING)
    async def reminders(
        self,
        request: Request[Any, Any, Any],
        billing: NamedDependency[BillingEntityService],
        paging: NamedDependency[Paging],
        envoyees: FromQuery[str] = "",
    ) -> Template:
        """What was sent (latest first), and each invoice due with its next reminder."""
        principal, entity_id, entity = await _entity(request, billing)
        context: dict[str, Any] = {"entity": entity, "entity_id": entity_id, "sent": None, "upcoming": None}
        if entity_id is not None:
            service = ReminderService(billing.session)
            sent_paging = Paging.read(envoyees, "") if envoyees else Paging()
            context["sent"] = await service.sent_page(principal, entity_id, sent_paging)
            context["upcoming"] = await service.next_page(principal, entity_id, today(), paging)
            context["delays"] = await delays_of(billing.session, entity_id)
            context["delays_text"] = ", ".join(f"J+{days}" for days in context["delays"])
            context["today"] = today()
        return Template(template_name="billing/reminders.html", context=context)

    # --- Balance âgée -----------------------------------------------------------------------------------

    @get("/balance-agee", name="billing:aging", dependencies=PAGING)
    async def aging(
        self,
        request: Request[Any, Any, Any],
        billing: NamedDependency[BillingEntityService],
        paging: NamedDependency[Paging],
        date: FromQuery[str] = "",
    ) -> Template:
        principal, entity_id, entity = await _entity(request, billing)
        on, error = _reference_date(date)
        context: dict[str, Any] = {"entity": entity, "entity_id": entity_id, "result": None, "on": on,
                                   "date": forms.query_text(date, forms.DATE_MAX_LENGTH), "error": error,
                                   "buckets": BUCKETS, "labels": BUCKET_LABELS}  # fmt: skip
        if entity_id is not None:
            context["result"], context["total"] = await AgingService(billing.session).page(
                principal, entity_id, on, paging
            )
        return Template(template_name="billing/aging.html", context=context)

    @get("/balance-agee.csv", name="billing:aging_export")
    async def aging_export(
        self, request: Request[Any, Any, Any], billing: NamedDependency[BillingEntityService], date: FromQuery[str] = ""
    ) -> Stream:
        principal, entity_id, _entity_dossier = await _entity(request, billing)
        if entity_id is None:
            raise NotFoundException
        on, _error = _reference_date(date)
        sessions = reader_sessions(request)

        async def rows() -> AsyncIterator[list[str]]:
            async with sessions() as session:
                async for row in AgingService(session).rows(principal, entity_id, on):
                    yield [row.name, *(_csv(getattr(row, key)) for key in BUCKETS), _csv(row.total)]

        columns = [_("Client"), *(_(BUCKET_LABELS[key]) for key in BUCKETS), _("Total")]
        return csv_stream(rows(), columns, f"balance-agee-{on:%Y%m%d}.csv")


def _csv(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def _amount(text: str, field: str, errors: dict[str, str]) -> Decimal | None:
    try:
        value = parse_number(text)
    except NumberError as refused:
        errors.setdefault(field, refused.message)
        return None
    if value is None:
        errors.setdefault(field, N_("Saisissez un montant supérieur à zéro."))
    return value


def _allocations(data: PaymentForm, errors: dict[str, str]) -> list[Allocation] | None:
    """The amounts typed per invoice; None when all are blank (oldest due first)."""
    typed = [(invoice, text) for invoice, text in zip(data.facture, data.part, strict=False) if text.strip()]
    if not typed:
        return None
    allocations = []
    for invoice, text in typed:
        invoice_id = _uuid(invoice)
        try:
            value = parse_number(text)
        except NumberError as refused:
            errors.setdefault("repartition", refused.message)
            continue
        if invoice_id is not None and value is not None:
            allocations.append(Allocation(invoice_id, value))
    return allocations


async def _form_context(
    principal: Principal, entity_id: uuid.UUID, payments: PaymentService, form: PaymentForm, errors: dict[str, str]
) -> dict[str, Any]:
    choices = await payments.payable_clients(principal, entity_id)
    client_id = _uuid(form.client)
    chosen = None
    if client_id is not None:
        try:
            chosen = await payments.client(principal, entity_id, client_id)
        except NotFoundException:
            errors.setdefault("client", N_("Choisissez le client qui a payé."))
    invoices = await payments.open_invoices(principal, entity_id, chosen.id) if chosen else []
    typed = dict(zip(form.facture, form.part, strict=False))
    if chosen and all(choice[0] != chosen.id for choice in choices):
        choices.append((chosen.id, chosen.name))
    return {
        "entity_id": entity_id, "form": form, "errors": errors, "choices": choices, "client": chosen,
        "invoices": invoices, "typed": typed, "methods": list(PaymentMethod),
        "credit": await payments.credit(principal, entity_id, chosen.id) if chosen else None,
    }  # fmt: skip


async def _bank_page(  # noqa: PLR0917 - the page's parts
    principal: Principal,
    entity_id: uuid.UUID | None,
    entity: Any,
    bank: BankService,
    paging: Paging,
    slug: str,
    *,
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
) -> Template:
    status = STATUS_SLUGS.get(slug, BankLineStatus.TO_MATCH)
    slug = next(key for key, value in STATUS_SLUGS.items() if value is status)
    context: dict[str, Any] = {"entity": entity, "entity_id": entity_id, "result": None, "errors": errors or {},
                               "status": status, "slug": slug, "slugs": STATUS_SLUGS}  # fmt: skip
    if entity_id is not None:
        result = await bank.page(principal, entity_id, status, paging)
        context["result"] = result
        context["counts"] = await bank.counts(principal, entity_id)
        context["invoices"] = await bank.invoices_by_id(
            [line.suggested_invoice_id for line in result.items if line.suggested_invoice_id]
        )
        context["can_manage"] = principal.can(Permission.BILLING_FEES_MANAGE, entity_id)
    return Template(template_name="billing/bank.html", context=context, status_code=status_code)
