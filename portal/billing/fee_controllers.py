"""Facturation: Paramètres de facturation, the catalogue, lettres de mission (the editor, the PDF, sending,
renewals), Dossiers non facturés; and the public page of a letter's link, where the client accepts it."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest

from portal.auth.guards import PUBLIC, principal_of, requires_somewhere
from portal.auth.permissions import Permission
from portal.auth.policy import Principal
from portal.billing import catalogue, engagements, fee_settings
from portal.billing.catalogue import CatalogueService, DuplicateLabelError, ServiceForm
from portal.billing.engagement_pdf import TEMPLATE, letter, pdf_name
from portal.billing.engagements import (
    EngagementError,
    EngagementForm,
    EngagementService,
    MissionRow,
)
from portal.billing.fee_models import Engagement, EngagementStatus, Rhythm, Unit
from portal.billing.fee_settings import BillingSettingsService, SettingsForm
from portal.billing.fees import billing_ht, fees
from portal.billing.invoices import InvoiceService
from portal.billing.services import BillingEntityService
from portal.billing.unbilled import UnbilledService
from portal.clients.models import Dossier
from portal.db.paging import Paging
from portal.firm.controllers import LINK_HEADERS  # the token is in the address: no referrer, no cache
from portal.firm.invitations import LinkError
from portal.i18n import N_, _
from portal.settings import FIRM_TIMEZONE, Settings
from portal.web import forms
from portal.web.context import client_address
from portal.web.deps import PAGING, provide
from portal.web.pdf import render_pdf

ENGAGEMENTS = "/facturation/lettres-de-mission"
MONTH = re.compile(r"(\d{4})-(\d{2})")
BAD_MONTH = N_("Choisissez un mois (AAAA-MM).")


def reads_billing(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Guard: the client base firm-wide, or the fees somewhere (a Gestionnaire de facturation, a Comptable)."""
    principal = principal_of(connection)
    if not (principal.can(Permission.BILLING_CLIENTS_READ) or principal.can_somewhere(Permission.BILLING_FEES_READ)):
        raise PermissionDeniedException


reads_billing.permissions = (Permission.BILLING_CLIENTS_READ, Permission.BILLING_FEES_READ)  # type: ignore[attr-defined]


@get("/facturation", guards=[reads_billing], name="billing:home", include_in_schema=False)
async def billing_home(request: Request[Any, Any, Any]) -> Redirect:
    """Facturation: the client base for whoever reads it, else the lettres de mission."""
    if principal_of(request).can(Permission.BILLING_CLIENTS_READ):
        return Redirect("/facturation/clients")
    return Redirect(ENGAGEMENTS)


def today() -> dt.date:
    return dt.datetime.now(FIRM_TIMEZONE).date()


@dataclass
class Fees:
    """What the fees pages use: the billing entity and the services on the request's session."""

    billing: NamedDependency[BillingEntityService]
    fee_settings: NamedDependency[BillingSettingsService]
    catalogue: NamedDependency[CatalogueService]
    engagements: NamedDependency[EngagementService]
    unbilled: NamedDependency[UnbilledService]

    async def context(self, request: Request[Any, Any, Any], *, entity_wide: bool = False) -> dict[str, Any]:
        """The page's entity and what the person may do there; 403 for a page read entity-wide only
        (``entity_wide``: the catalogue, the settings) by someone who reads only their dossiers' fees."""
        principal = principal_of(request)
        entity_id, entity = await self.billing.entity(principal)
        if entity_wide and entity_id is not None and not principal.can(Permission.BILLING_FEES_READ, entity_id):
            raise PermissionDeniedException
        return {
            "principal": principal,
            "entity": entity,
            "entity_id": entity_id,
            "may_manage": entity_id is not None and principal.can(Permission.BILLING_FEES_MANAGE, entity_id),
        }


def _manager(context: dict[str, Any]) -> uuid.UUID:
    """The entity, for a change: refused (403) to whoever does not manage the fees."""
    if not context["may_manage"]:
        raise PermissionDeniedException
    entity_id: uuid.UUID = context["entity_id"]
    return entity_id


def _no_entity(context: dict[str, Any], template: str) -> Template:
    return Template(template_name=template, context=context)


@dataclass
class AcceptForm:
    nom: str = forms.text(forms.NAME_MAX_LENGTH)


def _status(value: str) -> EngagementStatus | None:
    try:
        return EngagementStatus(value)
    except ValueError:
        return None


def _month(value: str, default: dt.date) -> tuple[dt.date, bool]:
    """``2026-03`` → 1 March 2026; ``default``'s month and False when it is not a month."""
    found = MONTH.fullmatch(value.strip())
    if found and 1 <= int(found.group(2)) <= 12:  # noqa: PLR2004 - months
        return dt.date(int(found.group(1)), int(found.group(2)), 1), True
    return default.replace(day=1), not value.strip()


def _month_end(first: dt.date) -> dt.date:
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


class FeesController(Controller):
    path = "/facturation"
    include_in_schema = False
    guards = (requires_somewhere(Permission.BILLING_FEES_READ),)
    dependencies: Mapping[str, Provide] = {
        "billing": provide(BillingEntityService),
        "fee_settings": provide(BillingSettingsService),
        "catalogue": provide(CatalogueService),
        "engagements": provide(EngagementService),
        "unbilled": provide(UnbilledService),
        "fees_page": Provide(Fees, sync_to_thread=False),
    }

    # --- Paramètres de facturation -------------------------------------------------------------

    @get("/parametres", name="billing:settings")
    async def settings_page(self, request: Request[Any, Any, Any], fees_page: NamedDependency[Fees]) -> Template:
        context = await fees_page.context(request, entity_wide=True)
        if context["entity_id"] is not None:
            saved = await fees_page.fee_settings.read(context["entity_id"])
            context |= {"form": SettingsForm.of(saved), "errors": {}}
        return Template(template_name="billing/settings.html", context=context)

    @post("/parametres", name="billing:settings_save", media_type=MediaType.HTML)
    async def save_settings(
        self,
        request: Request[Any, Any, Any],
        fees_page: NamedDependency[Fees],
        data: Annotated[SettingsForm, forms.POSTED],
    ) -> Template | Redirect:
        context = await fees_page.context(request, entity_wide=True)
        entity_id = _manager(context)
        checked = fee_settings.validate(data)
        if checked.values is None:
            context |= {"form": data, "errors": checked.errors}
            return Template(template_name="billing/settings.html", context=context, status_code=422)
        await fees_page.fee_settings.save(context["principal"], entity_id, checked.values)
        flash(request, _("Les paramètres de facturation sont enregistrés."), category="success")
        return Redirect("/facturation/parametres", status_code=303)

    # --- Catalogue -----------------------------------------------------------------------------

    @get("/catalogue", name="billing:catalogue", dependencies=PAGING)
    async def catalogue_page(
        self, request: Request[Any, Any, Any], fees_page: NamedDependency[Fees], paging: NamedDependency[Paging]
    ) -> Template:
        context = await fees_page.context(request, entity_wide=True)
        if context["entity_id"] is not None:
            context["rate_label"] = catalogue.rate_label
            context["result"] = await fees_page.catalogue.page(
                context["principal"], context["entity_id"], paging=paging
            )
        return Template(template_name="billing/catalogue.html", context=context)

    def _service_form(self, context: dict[str, Any], form: ServiceForm, errors: dict[str, str], **more: Any) -> Any:
        context |= {"form": form, "errors": errors, "units": list(Unit), "rates": catalogue.VAT_RATES,
                    "rate_label": catalogue.rate_label, **more}  # fmt: skip
        return Template(template_name="billing/service_form.html", context=context, status_code=422 if errors else 200)

    @get("/catalogue/nouveau", name="billing:service_new")
    async def new_service(self, request: Request[Any, Any, Any], fees_page: NamedDependency[Fees]) -> Template:
        context = await fees_page.context(request, entity_wide=True)
        _manager(context)
        result: Template = self._service_form(context, ServiceForm(actif="1"), {}, service=None)
        return result

    @post("/catalogue/nouveau", name="billing:service_create", media_type=MediaType.HTML)
    async def create_service(
        self,
        request: Request[Any, Any, Any],
        fees_page: NamedDependency[Fees],
        data: Annotated[ServiceForm, forms.POSTED],
    ) -> Template | Redirect:
        context = await fees_page.context(request, entity_wide=True)
        entity_id = _manager(context)
        checked = catalogue.validate(data)
        if checked.values is not None:
            try:
                service = await fees_page.catalogue.create(context["principal"], entity_id, checked.values)
            except DuplicateLabelError as taken:
                checked.errors[taken.field] = taken.message
            else:
                flash(request, _("Service « %(label)s » ajouté au catalogue.") % {"label": service.label},
                      category="success")  # fmt: skip
                return Redirect("/facturation/catalogue", status_code=303)
        result: Template = self._service_form(context, data, checked.errors, service=None)
        return result

    @get("/catalogue/{service_id:uuid}", name="billing:service")
    async def edit_service(
        self, request: Request[Any, Any, Any], fees_page: NamedDependency[Fees], service_id: FromPath[uuid.UUID]
    ) -> Template:
        context = await fees_page.context(request, entity_wide=True)
        service = await fees_page.catalogue.get(
            context["principal"], context["entity_id"] or uuid.UUID(int=0), service_id
        )
        result: Template = self._service_form(context, ServiceForm.of(service), {}, service=service)
        return result

    @post("/catalogue/{service_id:uuid}", name="billing:service_update", media_type=MediaType.HTML)
    async def update_service(
        self,
        request: Request[Any, Any, Any],
        fees_page: NamedDependency[Fees],
        service_id: FromPath[uuid.UUID],
        data: Annotated[ServiceForm, forms.POSTED],
    ) -> Template | Redirect:
        context = await fees_page.context(request, entity_wide=True)
        entity_id = _manager(context)
        service = await fees_page.catalogue.get(context["principal"], entity_id, service_id)
        checked = catalogue.validate(data)
        if checked.values is not None:
            try:
                await fees_page.catalogue.update(context["principal"], service, checked.values)
            except DuplicateLabelError as taken:
                checked.errors[taken.field] = taken.message
            else:
                flash(request, _("Service « %(label)s » enregistré.") % {"label": service.label}, category="success")
                return Redirect("/facturation/catalogue", status_code=303)
        result: Template = self._service_form(context, data, checked.errors, service=service)
        return result

    @post("/catalogue/{service_id:uuid}/activation", name="billing:service_activation")
    async def toggle_service(
        self, request: Request[Any, Any, Any], fees_page: NamedDependency[Fees], service_id: FromPath[uuid.UUID]
    ) -> Redirect:
        context = await fees_page.context(request, entity_wide=True)
        entity_id = _manager(context)
        service = await fees_page.catalogue.get(context["principal"], entity_id, service_id)
        await fees_page.catalogue.set_active(context["principal"], service, active=not service.active)
        if service.active:
            message = _("Service « %(label)s » réactivé.")
        else:
            message = _("Service « %(label)s » désactivé : il n'est plus proposé dans les lettres de mission.")
        flash(request, message % {"label": service.label}, category="success")
        return Redirect("/facturation/catalogue", status_code=303)

    # --- Lettres de mission --------------------------------------------------------------------

    @get("/lettres-de-mission", name="billing:engagements", dependencies=PAGING)
    async def engagements_page(
        self,
        request: Request[Any, Any, Any],
        fees_page: NamedDependency[Fees],
        paging: NamedDependency[Paging],
        statut: FromQuery[str] = "",
    ) -> Template:
        context = await fees_page.context(request)
        status = _status(forms.query_text(statut, forms.CHOICE_MAX_LENGTH))
        context |= {"status": status, "statuses": list(EngagementStatus), "yearly": engagements.yearly_fees}
        if context["entity_id"] is not None:
            context["result"] = await fees_page.engagements.page(
                context["principal"], context["entity_id"], status=status, paging=paging
            )
        return Template(template_name="billing/engagements.html", context=context)

    async def _editor(
        self,
        fees_page: Fees,
        context: dict[str, Any],
        form: EngagementForm,
        rows: list[MissionRow],
        *,
        errors: dict[str, str] | None = None,
        engagement: Engagement | None = None,
        query: str = "",
    ) -> Template:
        principal, entity_id = context["principal"], context["entity_id"]
        services = await fees_page.catalogue.choices(principal, entity_id)
        chosen = engagements.parse_id(form.client)
        clients = await fees_page.engagements.client_choices(principal, entity_id, query, chosen)
        rows = rows + [MissionRow() for _blank in range(max(engagements.BLANK_ROWS - sum(r.blank for r in rows), 0))]
        context |= {
            "form": form, "rows": rows, "errors": errors or {}, "engagement": engagement, "clients": clients,
            "services": services, "units": list(Unit), "rates": catalogue.VAT_RATES, "rhythms": list(Rhythm),
            "rate_label": catalogue.rate_label,
            "fees": fees(engagements.priced(rows)), "q": query,
            "action_url": f"{ENGAGEMENTS}/{engagement.id}/modifier" if engagement else f"{ENGAGEMENTS}/nouvelle",
        }  # fmt: skip
        return Template(
            template_name="billing/engagement_form.html", context=context, status_code=422 if errors else 200
        )

    @get("/lettres-de-mission/nouvelle", name="billing:engagement_new")
    async def new_engagement(
        self,
        request: Request[Any, Any, Any],
        fees_page: NamedDependency[Fees],
        client: FromQuery[str] = "",
        q: FromQuery[str] = "",
    ) -> Template:
        context = await fees_page.context(request)
        _manager(context)
        form = EngagementForm(client=forms.query_text(client, forms.CHOICE_MAX_LENGTH), debut=today().isoformat())
        chosen = engagements.parse_id(form.client)
        if chosen is not None:
            found = await fees_page.engagements.client_choices(
                context["principal"], context["entity_id"], chosen=chosen
            )
            picked = next((one for one in found if one.id == chosen), None)
            if picked is not None:
                form.contact, form.email = picked.billing_contact, picked.billing_email
        return await self._editor(fees_page, context, form, [], query=forms.query_text(q))

    async def _posted(
        self,
        request: HTMXRequest,
        fees_page: Fees,
        context: dict[str, Any],
        data: EngagementForm,
        engagement: Engagement | None,
    ) -> Template | Redirect:
        principal, entity_id = context["principal"], context["entity_id"]
        services = {str(service.id): service for service in await fees_page.catalogue.choices(principal, entity_id)}
        rows = engagements.rows_of(data)
        trigger = request.htmx.trigger if request.htmx else None
        changed = (
            int(trigger.rpartition("-")[2])
            if trigger and trigger.startswith("service-") and trigger[8:].isdigit()
            else None
        )
        engagements.prefill(rows, services, changed)
        if data.action in {"ajouter", "actualiser"}:
            if data.action == "ajouter":
                rows.append(MissionRow())
            forms.clip(data)
            return await self._editor(fees_page, context, data, rows, engagement=engagement)
        checked = engagements.validate(data, rows, services)
        if checked.values is not None:
            try:
                if engagement is None:
                    engagement = await fees_page.engagements.create(principal, entity_id, checked.values)
                else:
                    engagement = await fees_page.engagements.update(principal, engagement, checked.values)
            except EngagementError as refused:
                checked.errors[refused.field or "general"] = refused.message
            else:
                flash(request, _("Lettre de mission %(reference)s enregistrée.") % {"reference": engagement.reference},
                      category="success")  # fmt: skip
                return Redirect(f"{ENGAGEMENTS}/{engagement.id}", status_code=303)
        return await self._editor(fees_page, context, data, rows, errors=checked.errors, engagement=engagement)

    @post("/lettres-de-mission/nouvelle", name="billing:engagement_create", media_type=MediaType.HTML)
    async def create_engagement(
        self, request: HTMXRequest, fees_page: NamedDependency[Fees], data: Annotated[EngagementForm, forms.POSTED]
    ) -> Template | Redirect:
        context = await fees_page.context(request)
        _manager(context)
        return await self._posted(request, fees_page, context, data, None)

    async def _engagement(
        self, fees_page: Fees, context: dict[str, Any], engagement_id: uuid.UUID, permission: Permission
    ) -> Engagement:
        entity_id = context["entity_id"] or uuid.UUID(int=0)
        return await fees_page.engagements.get(context["principal"], entity_id, engagement_id, permission)

    @get("/lettres-de-mission/{engagement_id:uuid}", name="billing:engagement")
    async def engagement_page(
        self, request: Request[Any, Any, Any], fees_page: NamedDependency[Fees], engagement_id: FromPath[uuid.UUID]
    ) -> Template:
        context = await fees_page.context(request)
        engagement = await self._engagement(fees_page, context, engagement_id, Permission.BILLING_FEES_READ)
        context |= {"engagement": engagement, "letter": await letter(fees_page.engagements.session, engagement)}
        return Template(template_name="billing/engagement.html", context=context)

    @get("/lettres-de-mission/{engagement_id:uuid}/modifier", name="billing:engagement_edit")
    async def edit_engagement(
        self,
        request: Request[Any, Any, Any],
        fees_page: NamedDependency[Fees],
        engagement_id: FromPath[uuid.UUID],
        q: FromQuery[str] = "",
    ) -> Template:
        context = await fees_page.context(request)
        _manager(context)
        engagement = await self._engagement(fees_page, context, engagement_id, Permission.BILLING_FEES_MANAGE)
        form, rows = engagements.form_of(engagement)
        return await self._editor(fees_page, context, form, rows, engagement=engagement, query=forms.query_text(q))

    @post(
        "/lettres-de-mission/{engagement_id:uuid}/modifier", name="billing:engagement_update", media_type=MediaType.HTML
    )
    async def update_engagement(
        self,
        request: HTMXRequest,
        fees_page: NamedDependency[Fees],
        engagement_id: FromPath[uuid.UUID],
        data: Annotated[EngagementForm, forms.POSTED],
    ) -> Template | Redirect:
        context = await fees_page.context(request)
        _manager(context)
        engagement = await self._engagement(fees_page, context, engagement_id, Permission.BILLING_FEES_MANAGE)
        if engagement.status not in {EngagementStatus.DRAFT, EngagementStatus.SENT}:
            flash(request, _(engagements.NOT_EDITABLE), category="error")
            return Redirect(f"{ENGAGEMENTS}/{engagement.id}", status_code=303)
        return await self._posted(request, fees_page, context, data, engagement)

    @get("/lettres-de-mission/{engagement_id:uuid}/pdf", name="billing:engagement_pdf")
    async def engagement_pdf(
        self,
        request: Request[Any, Any, Any],
        fees_page: NamedDependency[Fees],
        settings: NamedDependency[Settings],
        engagement_id: FromPath[uuid.UUID],
    ) -> Response[bytes]:
        context = await fees_page.context(request)
        engagement = await self._engagement(fees_page, context, engagement_id, Permission.BILLING_FEES_READ)
        return await _pdf_response(settings, await letter(fees_page.engagements.session, engagement))

    @post("/lettres-de-mission/{engagement_id:uuid}/envoyer", name="billing:engagement_send")
    async def send_engagement(
        self, request: Request[Any, Any, Any], fees_page: NamedDependency[Fees], engagement_id: FromPath[uuid.UUID]
    ) -> Redirect:
        context = await fees_page.context(request)
        _manager(context)
        engagement = await self._engagement(fees_page, context, engagement_id, Permission.BILLING_FEES_MANAGE)
        try:
            await fees_page.engagements.send(context["principal"], engagement)
        except EngagementError as refused:
            flash(request, _(refused.message), category="error")
        else:
            message = _("La lettre de mission %(reference)s part à %(email)s, avec son lien d'acceptation.")
            flash(request, message % {"reference": engagement.reference, "email": engagement.contact_email},
                  category="success")  # fmt: skip
        return Redirect(f"{ENGAGEMENTS}/{engagement.id}", status_code=303)

    @post("/lettres-de-mission/{engagement_id:uuid}/renouveler", name="billing:engagement_renew")
    async def renew_engagement(
        self, request: Request[Any, Any, Any], fees_page: NamedDependency[Fees], engagement_id: FromPath[uuid.UUID]
    ) -> Redirect:
        context = await fees_page.context(request)
        _manager(context)
        engagement = await self._engagement(fees_page, context, engagement_id, Permission.BILLING_FEES_MANAGE)
        try:
            renewal = await fees_page.engagements.renew(context["principal"], engagement)
        except EngagementError as refused:
            flash(request, _(refused.message), category="error")
            return Redirect(f"{ENGAGEMENTS}/{engagement.id}", status_code=303)
        flash(request, _("Renouvellement %(reference)s préparé en brouillon : relisez-le puis envoyez-le au client.")
              % {"reference": renewal.reference}, category="success")  # fmt: skip
        return Redirect(f"{ENGAGEMENTS}/{renewal.id}", status_code=303)

    # --- Renouvellements, Dossiers non facturés ------------------------------------------------

    @get("/renouvellements", name="billing:renewals", dependencies=PAGING)
    async def renewals(
        self, request: Request[Any, Any, Any], fees_page: NamedDependency[Fees], paging: NamedDependency[Paging]
    ) -> Template:
        context = await fees_page.context(request)
        context |= {"today": today(), "yearly": engagements.yearly_fees}
        if context["entity_id"] is not None:
            context["result"] = await fees_page.engagements.renewals(
                context["principal"], context["entity_id"], context["today"], paging
            )
        return Template(template_name="billing/renewals.html", context=context)

    @get("/non-factures", name="billing:unbilled", dependencies=PAGING)
    async def unbilled_page(
        self,
        request: Request[Any, Any, Any],
        *,
        fees_page: NamedDependency[Fees],
        paging: NamedDependency[Paging],
        vue: FromQuery[str] = "",
        du: FromQuery[str] = "",
        au: FromQuery[str] = "",
    ) -> Template:
        context = await fees_page.context(request)
        view = "missions" if vue == "missions" else "clients"
        first, first_ok = _month(forms.query_text(du, forms.DATE_MAX_LENGTH), today())
        last_month, last_ok = _month(forms.query_text(au, forms.DATE_MAX_LENGTH), first)
        errors = {} if first_ok and last_ok and last_month >= first else {"periode": BAD_MONTH}
        last_month = max(last_month, first)
        period = (first, _month_end(last_month))
        context |= {
            "billing_ht": billing_ht,
            "view": view,
            "period": period,
            "du": f"{first:%Y-%m}",
            "au": f"{last_month:%Y-%m}",
            "errors": errors,
        }
        if context["entity_id"] is not None:
            principal, entity_id = context["principal"], context["entity_id"]
            single = Paging(page=1, size=paging.size)
            clients_paging, missions_paging = (paging, single) if view == "clients" else (single, paging)
            context["clients"] = await fees_page.unbilled.clients(principal, entity_id, clients_paging)
            context["missions"] = await fees_page.unbilled.missions(principal, entity_id, period, missions_paging)
        return Template(template_name="billing/unbilled.html", context=context)


async def _pdf_response(settings: Settings, document: Any) -> Response[bytes]:
    pdf = await render_pdf(settings, TEMPLATE, letter=document)
    name = pdf_name(document.reference, document.client.name)
    return Response(
        content=pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f"inline; filename*=UTF-8''{_quoted(name)}", "Cache-Control": "no-store"},
    )


def _quoted(name: str) -> str:
    return quote(name)


# --- the client's link ---------------------------------------------------------------------------


class EngagementLinkController(Controller):
    """The link of the email: the letter, its PDF, and « J'accepte la lettre de mission » (public)."""

    path = "/lettre-de-mission"
    include_in_schema = False
    dependencies: Mapping[str, Provide] = {"engagements": provide(EngagementService)}

    @staticmethod
    def _refused(refused: LinkError) -> Template:
        return Template(
            template_name="errors/error.html",
            context={"status": refused.status, "title": _(refused.title), "message": _(refused.message)},
            status_code=refused.status,
            headers=LINK_HEADERS,
        )

    @staticmethod
    async def _page(
        service: EngagementService, engagement: Engagement, token: str, errors: dict[str, str], name: str = ""
    ) -> Template:
        context = {"letter": await letter(service.session, engagement), "engagement": engagement, "token": token,
                   "errors": errors, "name": name}  # fmt: skip
        return Template(template_name="billing/engagement_public.html", context=context,
                        status_code=422 if errors else 200, headers=LINK_HEADERS)  # fmt: skip

    @get("/{token:str}", opt=PUBLIC, name="billing:engagement_link", media_type=MediaType.HTML)
    async def page(self, engagements: NamedDependency[EngagementService], token: FromPath[str]) -> Template:
        try:
            engagement = await engagements.open_link(token)
        except LinkError as refused:
            return self._refused(refused)
        return await self._page(engagements, engagement, token, {})

    @get("/{token:str}/pdf", opt=PUBLIC, name="billing:engagement_link_pdf")
    async def pdf(
        self, engagements: NamedDependency[EngagementService], settings: NamedDependency[Settings], token: FromPath[str]
    ) -> Response[bytes] | Template:
        try:
            engagement = await engagements.open_link(token)
        except LinkError as refused:
            return self._refused(refused)
        response = await _pdf_response(settings, await letter(engagements.session, engagement))
        response.headers.update(LINK_HEADERS)
        return response

    @post("/{token:str}", opt=PUBLIC, name="billing:engagement_accept", media_type=MediaType.HTML)
    async def accept(
        self,
        request: Request[Any, Any, Any],
        engagements: NamedDependency[EngagementService],
        token: FromPath[str],
        data: Annotated[AcceptForm, forms.POSTED],
    ) -> Template:
        errors = forms.clip(data)
        try:
            if errors:
                engagement = await engagements.open_link(token)
            else:
                engagement = await engagements.accept(token, name=data.nom, address=client_address(request))
        except LinkError as refused:
            return self._refused(refused)
        except EngagementError as refused:
            errors = {refused.field or "nom": refused.message}
            engagement = await engagements.open_link(token)
        return await self._page(engagements, engagement, token, errors, data.nom)


async def dossier_engagements(principal: Principal, session: Any, dossier: Dossier) -> dict[str, Any]:
    """The lettres de mission of the dossier's client, for the panel's Facturation tab (those who read its fees)."""
    entity_id, _entity = await BillingEntityService(session).entity(principal)
    if entity_id is None or not (
        principal.can(Permission.BILLING_FEES_READ, dossier.id)
        or principal.can(Permission.BILLING_FEES_READ, entity_id)
    ):
        return {"fees_shown": False}
    service = EngagementService(session)
    client_id = await service.client_id_of(entity_id, dossier.id)
    invoices, due = await InvoiceService(session).of_client(principal, client_id) if client_id else ([], Decimal(0))
    return {
        "fees_shown": True,
        "engagements": await service.of_dossier(principal, entity_id, dossier.id),
        "fees_client_id": client_id,
        "client_invoices": invoices,
        "client_due": due,
        "may_write": principal.can(Permission.BILLING_FEES_MANAGE, entity_id),
        "yearly_fees": engagements.yearly_fees,
    }
