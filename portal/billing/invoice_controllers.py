"""Facturation › Factures: the list, a one-off invoice, a draft's lines, validation, credit notes, sending."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template
from sqlalchemy import select

from portal.auth.guards import principal_of, requires_somewhere
from portal.auth.permissions import Permission
from portal.auth.policy import Principal, restrict
from portal.billing.amounts import totals
from portal.billing.einvoicing import archive, events_of
from portal.billing.fee_models import Invoice, Unit
from portal.billing.fee_reports import FeeReportService
from portal.billing.invoices import (
    INVOICE_ORDER,
    INVOICE_SORTS,
    MANAGE,
    READ,
    FeeError,
    InvoiceFilters,
    InvoiceService,
    today,
)
from portal.billing.models import BillingClient
from portal.billing.policy import client_not_hidden
from portal.billing.runs import month_bounds
from portal.billing.schemas import VAT_RATES, LinesForm, parse_lines, parse_rate
from portal.dashboard.amounts import NumberError
from portal.db.paging import Paging, Sort
from portal.i18n import N_, NP_, _, ngettext, number
from portal.settings import Settings
from portal.web import forms
from portal.web.deps import PAGING, provide
from portal.web.exports import download, reader_sessions

READS = requires_somewhere(READ)
MIN_YEAR, MAX_YEAR = 2000, 2100
MONTHS = (N_("Janvier"), N_("Février"), N_("Mars"), N_("Avril"), N_("Mai"), N_("Juin"), N_("Juillet"), N_("Août"),
          N_("Septembre"), N_("Octobre"), N_("Novembre"), N_("Décembre"))  # fmt: skip
MANAGES = requires_somewhere(MANAGE)
STATUS_FILTERS = (
    ("", N_("Toutes")),
    ("brouillons", N_("Brouillons")),
    ("validees", N_("Validées")),
    ("impayees", N_("Impayées")),
    ("en-retard", N_("En retard")),
    ("payees", N_("Payées")),
)


@dataclass
class SelectedForm:
    """Invoices chosen in a list (``facture`` once per box ticked) and the page to return to."""

    facture: list[str] = forms.texts(forms.CHOICE_MAX_LENGTH)
    retour: str = forms.text(300)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def _ids(values: list[str]) -> list[uuid.UUID]:
    return [found for value in values if (found := _uuid(value)) is not None]


VALIDATED = NP_("Facture validée : %(first)s.", "%(num)s factures validées : %(first)s à %(last)s.")
REMOVED = NP_("%(num)s brouillon supprimé.", "%(num)s brouillons supprimés.")


def validated_words(numbers: list[str]) -> str:
    """« 3 factures validées : F2026-000004 à F2026-000006. »"""
    words = {"num": number(len(numbers)), "first": min(numbers), "last": max(numbers)}
    return ngettext(*VALIDATED, len(numbers)) % words


def refusal(refused: FeeError) -> str:
    """The refusal in the reader's language, its figures filled in."""
    return _(refused.message) % refused.params if refused.params else _(refused.message)


async def billable_clients(invoices: InvoiceService, principal: Principal) -> list[BillingClient]:
    """The clients of the billing base the person may bill (the confidentiality rule applies)."""
    entity = await invoices.entity_id()
    statement = (
        restrict(select(BillingClient), principal, Permission.BILLING_CLIENTS_READ, BillingClient)
        if principal.can(Permission.BILLING_CLIENTS_READ)
        else select(BillingClient).where(client_not_hidden(principal, BillingClient.id))
    )
    statement = statement.where(BillingClient.billing_entity_id == entity).order_by(BillingClient.sort_name)
    found: list[BillingClient] = list((await invoices.session.execute(statement.limit(2000))).scalars())
    return found


class InvoiceController(Controller):
    path = "/facturation/factures"
    include_in_schema = False
    guards = (READS,)
    dependencies: Mapping[str, Provide] = {"invoices": provide(InvoiceService)}

    @get("/", name="billing:invoices", dependencies=PAGING)
    async def index(
        self,
        request: Request[Any, Any, Any],
        invoices: NamedDependency[InvoiceService],
        *,
        paging: NamedDependency[Paging],
        statut: FromQuery[str] = "",
        q: FromQuery[str] = "",
        tri: FromQuery[str] = "",
        lot: FromQuery[str] = "",
    ) -> Template:
        """The invoices and drafts the person may read; ``lot``: those of one billing run."""
        principal = principal_of(request)
        sort = Sort.read(tri, INVOICE_SORTS, INVOICE_ORDER)
        status = statut if statut in {key for key, _label in STATUS_FILTERS} else ""
        query = forms.query_text(q).strip()
        run_id = _uuid(forms.query_text(lot, forms.CHOICE_MAX_LENGTH))
        filters = InvoiceFilters(status=status, query=query, run_id=run_id)
        result = await invoices.page(principal, filters, paging, sort)
        try:
            entity = await invoices.entity_id()
        except FeeError:
            entity = None
        context = {
            "result": result, "sort": sort, "status": status, "q": query, "filters": STATUS_FILTERS,
            "can_manage": entity is not None and principal.can(MANAGE, entity),
            "params": {"statut": status, "q": query, "tri": sort.value, "lot": str(run_id or "")},
            "today": today(), "run_id": run_id,
        }  # fmt: skip
        return Template(template_name="billing/invoices.html", context=context)

    @get("/nouvelle", guards=[MANAGES], name="billing:invoice_new")
    async def new(self, request: Request[Any, Any, Any], invoices: NamedDependency[InvoiceService]) -> Template:
        principal = principal_of(request)
        return await _new_page(invoices, principal, LinesForm(), {})

    @post("/", guards=[MANAGES], name="billing:invoice_create", media_type=MediaType.HTML)
    async def create(
        self,
        request: Request[Any, Any, Any],
        invoices: NamedDependency[InvoiceService],
        data: Annotated[LinesForm, forms.POSTED],
    ) -> Template | Redirect:
        principal = principal_of(request)
        lines, errors = parse_lines(data)
        if not errors:
            try:
                invoice = await invoices.create_draft(
                    principal, _uuid(data.client), lines, note=data.note.strip(), purchase_order=data.commande.strip()
                )
            except FeeError as refused:
                errors[refused.field or "form"] = refusal(refused)
            else:
                flash(request, _("Brouillon enregistré : vérifiez-le, puis validez-le pour lui donner son numéro."),
                      category="success")  # fmt: skip
                return Redirect(f"/facturation/factures/{invoice.id}", status_code=303)
        return await _new_page(invoices, principal, data, errors, status_code=422)

    @get("/archive.zip", name="billing:invoices_archive")
    async def export_archive(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        du: FromQuery[str] = "",
        au: FromQuery[str] = "",
    ) -> Stream:
        """The Factur-X files of the invoices and credit notes validated over a period (the current month by
        default) that the person may read, as one ZIP: what a plateforme agréée or an accountant takes."""
        principal = principal_of(request)
        first, last = month_bounds(today())
        start, end = forms.parse_date(du) or first, forms.parse_date(au) or last
        sessions = reader_sessions(request)

        async def chosen() -> AsyncIterator[tuple[str, uuid.UUID]]:
            async with sessions() as session:
                statement = (
                    InvoiceService(session).visible(principal)
                    .with_only_columns(Invoice.number, Invoice.id)
                    .where(Invoice.number.is_not(None), Invoice.issue_date.between(start, end))
                    .order_by(Invoice.number)
                )  # fmt: skip
                for row in (await session.execute(statement)).all():
                    yield str(row[0]), row[1]

        async def pdf_of(invoice_id: uuid.UUID) -> bytes:
            async with sessions() as session:
                service = InvoiceService(session)
                return await service.pdf(settings, await service.get(principal, invoice_id), keep=False)

        return download(archive(chosen(), pdf_of), media_type="application/zip", charset="binary",
                        filename=f"factures-{start:%Y%m%d}-{end:%Y%m%d}.zip")  # fmt: skip

    @get("/{invoice_id:uuid}", name="billing:invoice")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        invoices: NamedDependency[InvoiceService],
        invoice_id: FromPath[uuid.UUID],
    ) -> Template:
        principal = principal_of(request)
        invoice = await invoices.get(principal, invoice_id)
        return await _detail_page(invoices, principal, invoice, None, errors={})

    @post("/{invoice_id:uuid}/lignes", guards=[MANAGES], name="billing:invoice_lines", media_type=MediaType.HTML)
    async def save_lines(
        self,
        request: Request[Any, Any, Any],
        invoices: NamedDependency[InvoiceService],
        invoice_id: FromPath[uuid.UUID],
        data: Annotated[LinesForm, forms.POSTED],
    ) -> Template | Redirect:
        principal = principal_of(request)
        invoice = await invoices.get(principal, invoice_id, MANAGE)
        lines, errors = parse_lines(data)
        if not errors:
            try:
                await invoices.replace_lines(
                    principal, invoice.id, lines, note=data.note.strip(), purchase_order=data.commande.strip()
                )
            except FeeError as refused:
                errors[refused.field or "form"] = refusal(refused)
            else:
                flash(request, _("Brouillon enregistré."), category="success")
                return Redirect(f"/facturation/factures/{invoice.id}", status_code=303)
        return await _detail_page(invoices, principal, invoice, data, errors=errors, status_code=422)

    @post("/valider", guards=[MANAGES], name="billing:invoices_validate")
    async def validate(
        self,
        request: Request[Any, Any, Any],
        invoices: NamedDependency[InvoiceService],
        data: Annotated[SelectedForm, forms.POSTED],
    ) -> Redirect:
        """Validate the drafts chosen (one from its page, several from a list): all of them, or none."""
        principal = principal_of(request)
        chosen = _ids(data.facture)
        back = _back(data.retour, chosen)
        if not chosen:
            flash(request, _("Cochez les brouillons à valider."), category="error")
            return Redirect(back, status_code=303)
        try:
            validated = await invoices.validate(principal, chosen)
        except FeeError as refused:
            flash(request, refusal(refused), category="error")
            return Redirect(back, status_code=303)
        numbers = validated.numbers
        flash(request, validated_words(numbers), category="success")
        if len(chosen) == 1:
            return Redirect(f"/facturation/factures/{validated.invoices[0].id}", status_code=303)
        return Redirect(back, status_code=303)

    @post("/supprimer", guards=[MANAGES], name="billing:invoices_remove")
    async def remove(
        self,
        request: Request[Any, Any, Any],
        invoices: NamedDependency[InvoiceService],
        data: Annotated[SelectedForm, forms.POSTED],
    ) -> Redirect:
        """Remove drafts: they had no number, so none is lost. A validated invoice is never removed."""
        chosen = _ids(data.facture)
        removed = await invoices.remove_drafts(principal_of(request), chosen)
        if removed:
            flash(request, ngettext(*REMOVED, removed) % {"num": number(removed)}, category="success")
        else:
            flash(request, _("Aucun brouillon à supprimer : une facture validée ne se supprime pas, "
                             "elle s'annule par un avoir."), category="error")  # fmt: skip
        back = data.retour if data.retour.startswith("/facturation/") else "/facturation/factures?statut=brouillons"
        if len(chosen) == 1 and back.startswith("/facturation/factures/"):
            back = "/facturation/factures?statut=brouillons"
        return Redirect(back, status_code=303)

    @post("/regrouper", guards=[MANAGES], name="billing:invoices_group")
    async def group(
        self,
        request: Request[Any, Any, Any],
        invoices: NamedDependency[InvoiceService],
        data: Annotated[SelectedForm, forms.POSTED],
    ) -> Redirect:
        chosen = _ids(data.facture)
        try:
            kept = await invoices.group_drafts(principal_of(request), chosen)
        except FeeError as refused:
            flash(request, refusal(refused), category="error")
            return Redirect(_back(data.retour, chosen), status_code=303)
        flash(request, _("Brouillons regroupés en un seul pour %(client)s.") % {"client": kept.client_name},
              category="success")  # fmt: skip
        return Redirect(f"/facturation/factures/{kept.id}", status_code=303)

    @post("/{invoice_id:uuid}/envoyer", guards=[MANAGES], name="billing:invoice_send")
    async def send(
        self,
        request: Request[Any, Any, Any],
        invoices: NamedDependency[InvoiceService],
        invoice_id: FromPath[uuid.UUID],
    ) -> Redirect:
        try:
            invoice = await invoices.request_sending(principal_of(request), invoice_id)
        except FeeError as refused:
            flash(request, refusal(refused), category="error")
        else:
            flash(request, _("Envoi demandé à %(email)s : la facture part avec son PDF Factur-X.")
                  % {"email": invoice.client_email}, category="success")  # fmt: skip
        return Redirect(f"/facturation/factures/{invoice_id}", status_code=303)

    @get("/{invoice_id:uuid}/pdf", name="billing:invoice_pdf")
    async def pdf(
        self,
        request: Request[Any, Any, Any],
        invoices: NamedDependency[InvoiceService],
        settings: NamedDependency[Settings],
        invoice_id: FromPath[uuid.UUID],
    ) -> Response[bytes]:
        """The validated invoice's Factur-X PDF (made now if its job has not reached it yet)."""
        invoice = await invoices.get(principal_of(request), invoice_id)
        if invoice.number is None:
            raise NotFoundException
        content = await invoices.pdf(settings, invoice)
        return Response(content, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.pdf"'})  # fmt: skip

    @get("/{invoice_id:uuid}/ubl.xml", name="billing:invoice_ubl")
    async def ubl(
        self,
        request: Request[Any, Any, Any],
        invoices: NamedDependency[InvoiceService],
        invoice_id: FromPath[uuid.UUID],
    ) -> Response[bytes]:
        """The validated invoice in UBL 2.1 (EN 16931), for a plateforme agréée that takes UBL."""
        invoice = await invoices.get(principal_of(request), invoice_id)
        if invoice.number is None:
            raise NotFoundException
        content = await invoices.ubl(invoice)
        disposition = f'attachment; filename="{invoice.number}-ubl.xml"'
        return Response(content, media_type="application/xml", headers={"Content-Disposition": disposition})

    @post("/{invoice_id:uuid}/avoir", guards=[MANAGES], name="billing:credit_note")
    async def credit_note(
        self,
        request: Request[Any, Any, Any],
        invoices: NamedDependency[InvoiceService],
        invoice_id: FromPath[uuid.UUID],
    ) -> Redirect:
        """A draft credit note for the whole invoice; its lines may then be lowered to cancel a part only."""
        try:
            note = await invoices.credit_note(principal_of(request), invoice_id)
        except FeeError as refused:
            flash(request, refusal(refused), category="error")
            return Redirect(f"/facturation/factures/{invoice_id}", status_code=303)
        flash(request, _("Avoir en brouillon : ajustez ses lignes pour n'annuler qu'une partie, puis validez-le."),
              category="success")  # fmt: skip
        return Redirect(f"/facturation/factures/{note.id}", status_code=303)


def _back(location: str, chosen: list[uuid.UUID]) -> str:
    if location.startswith("/facturation/") and "//" not in location:
        return location
    if len(chosen) == 1:
        return f"/facturation/factures/{chosen[0]}"
    return "/facturation/factures"


async def _new_page(
    invoices: InvoiceService, principal: Principal, form: LinesForm, errors: dict[str, str], status_code: int = 200
) -> Template:
    context = {
        "form": form, "errors": errors, "clients": await billable_clients(invoices, principal),
        "units": list(Unit), "rates": VAT_RATES, "rows": _rows(form, None),
    }  # fmt: skip
    return Template(template_name="billing/invoice_new.html", context=context, status_code=status_code)


def _rows(form: LinesForm | None, invoice: Any) -> list[dict[str, str]]:
    """The line rows a form shows: what was typed, else the invoice's lines, and blank rows to add more."""
    rows: list[dict[str, str]] = []
    if form is not None and (form.libelle or form.prix):
        columns = (("libelle", form.libelle), ("unite", form.unite), ("quantite", form.quantite),
                   ("prix", form.prix), ("tva", form.tva), ("compte", form.compte))  # fmt: skip
        rows.extend(
            {name: (values[index] if index < len(values) else "") for name, values in columns}
            for index in range(max(len(form.libelle), len(form.prix)))
        )
        for row in rows:
            row["tva"] = _rate_choice(row["tva"])
    elif invoice is not None:
        rows.extend({
            "libelle": line.label, "unite": line.unit.value, "quantite": _plain(line.quantity),
            "prix": _plain(line.unit_price), "tva": str(line.vat_rate), "compte": line.revenue_account,
        } for line in invoice.lines)  # fmt: skip
    rows.extend({"libelle": "", "unite": "forfait", "quantite": "", "prix": "", "tva": "20.00", "compte": "706000"}
                for _index in range(2 if rows else 3))  # fmt: skip
    return rows


def _rate_choice(typed: str) -> str:
    """The VAT rate option a typed rate selects again (``20.00``); the text itself when it is none."""
    try:
        return str(parse_rate(typed))
    except NumberError:
        return typed


def _plain(value: Any) -> str:
    """A Decimal as typed back in a field, French style, without useless zeros: ``2,5``, ``1234,50``."""
    text = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if "." in text:
        whole, decimals = text.split(".")
        decimals = decimals.rstrip("0")
        text = f"{whole}.{decimals.ljust(2, '0')}" if decimals else whole
    return text.replace(".", ",")


async def _detail_page(
    invoices: InvoiceService,
    principal: Principal,
    invoice: Any,
    form: LinesForm | None,
    *,
    errors: dict[str, str],
    status_code: int = 200,
) -> Template:
    can_manage = principal.can(MANAGE, invoice.entity_id)
    credited = (
        await invoices.session.get(type(invoice), invoice.credited_invoice_id) if invoice.credited_invoice_id else None
    )
    context = {
        "invoice": invoice, "can_manage": can_manage, "form": form or LinesForm(note=invoice.note,
        commande=invoice.purchase_order), "errors": errors, "rows": _rows(form, invoice), "units": list(Unit),
        "rates": VAT_RATES, "credit_notes": await invoices.credit_notes_of(invoice), "credited": credited,
        "figures": totals(invoice.lines), "today": today(), "settlements": await invoices.settlements_of(invoice),
        "einvoice_events": await events_of(invoices.session, invoice.id),
    }  # fmt: skip
    return Template(template_name="billing/invoice.html", context=context, status_code=status_code)


class FeeReportController(Controller):
    """Honoraires facturés by month, client and service, beside N-1."""

    path = "/facturation/honoraires"
    include_in_schema = False
    guards = (READS,)
    dependencies: Mapping[str, Provide] = {"reports": provide(FeeReportService)}

    @get("/", name="billing:fee_report")
    async def report(
        self, request: Request[Any, Any, Any], reports: NamedDependency[FeeReportService], annee: FromQuery[str] = ""
    ) -> Template:
        year = int(annee) if annee.isdigit() and MIN_YEAR <= int(annee) <= MAX_YEAR else today().year
        report = await reports.report(principal_of(request), year)
        context = {"report": report, "years": list(range(today().year, today().year - 5, -1)), "month_names": MONTHS}
        return Template(template_name="billing/fee_report.html", context=context)
